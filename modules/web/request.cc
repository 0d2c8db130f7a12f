#include "request.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include "http_mapping.h"

namespace portal::web {

namespace http = boost::beast::http;

namespace {

constexpr const char* kAllowedMethods = "GET, HEAD, POST, PUT, DELETE, OPTIONS";

std::string_view field(const HttpRequest& req, http::field f) {
  auto it = req.find(f);
  return it == req.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

std::string_view field(const HttpRequest& req, std::string_view name) {
  auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

Plan reply(int status, std::string body) {
  Plan p;
  p.kind = Plan::Kind::reply;
  p.reply = respond(status, std::move(body));
  return p;
}

void add_cors(const Settings& s, HttpResponse& res) {
  if (!s.cors_origin.empty()) res.set(http::field::access_control_allow_origin, s.cors_origin);
}

}  // namespace

Plan plan_request(const Settings& settings, HttpRequest& req, const std::string& source) {
  const std::string_view method(req.method_string().data(), req.method_string().size());
  if (req.method() == http::verb::options) {
    Plan p = reply(204, {});
    p.reply.headers.push_back({"Allow", kAllowedMethods});
    if (!settings.cors_origin.empty()) {
      p.reply.headers.push_back({"Access-Control-Allow-Methods", kAllowedMethods});
      p.reply.headers.push_back(
          {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Auth-Token"});
      p.reply.headers.push_back({"Access-Control-Max-Age", "86400"});
    }
    return p;
  }
  const std::string_view target(req.target().data(), req.target().size());
  Result<Target> t = parse_target(target, settings.api_prefix);
  if (!t) return reply(t.error().code, t.error().message);
  if (t->kind == TargetKind::outside) return reply(status::not_found, "Not found\n");
  std::optional<Method> m = map_method(method, t->has_action);
  if (!m) {
    Plan p = reply(405, "Method " + std::string(method) + " is not supported; use " + kAllowedMethods + "\n");
    p.reply.headers.push_back({"Allow", kAllowedMethods});
    return p;
  }
  Result<Credentials> creds = extract_credentials(
      {field(req, http::field::authorization), field(req, "X-API-Key"), field(req, "X-Auth-Token")}, t->query);
  if (!creds) return reply(creds.error().code, creds.error().message);
  creds->source = source;

  Plan p;
  p.json = wants_json(field(req, http::field::accept), t->query);
  p.head = req.method() == http::verb::head;
  p.message.ctx.credentials = std::move(*creds);
  if (t->kind == TargetKind::index) {
    p.kind = Plan::Kind::index;
    return p;
  }
  if (*m == Method::get && wants_event_stream(field(req, http::field::accept))) {
    if (std::optional<std::string> pattern = event_pattern(t->path)) {
      p.kind = Plan::Kind::events;
      p.pattern = std::move(*pattern);
      return p;
    }
  }
  p.kind = Plan::Kind::forward;
  p.message.path = std::move(t->path);
  p.message.method = *m;
  p.message.headers = std::move(t->query);
  if (req.method() == http::verb::delete_ && !t->has_action) p.message.add_header("action", "delete");
  p.message.body = std::move(req.body());
  return p;
}

HttpResponse build_response(const Settings& settings, Response&& r, std::string_view path, bool json, bool head,
                            bool keep_alive) {
  const int code = (r.status >= 100 && r.status <= 999) ? r.status : status::internal_error;
  HttpResponse res;
  res.version(11);
  res.result(static_cast<unsigned>(code));
  res.reason(boost::beast::string_view(reason_phrase(code).data(), reason_phrase(code).size()));
  if (json) {
    res.body() = render_json(code, r.body);
    res.set(http::field::content_type, "application/json; charset=utf-8");
  } else {
    const std::string_view ct = content_type(path, r.body);
    res.set(http::field::content_type, boost::beast::string_view(ct.data(), ct.size()));
    res.body() = std::move(r.body);
  }
  for (const Header& h : r.headers) {
    // Only the headers a module may set for HTTP; the rest stay Portal-internal.
    if (h.key == "Allow" || h.key.rfind("Access-Control-", 0) == 0 || h.key == "Retry-After")
      res.set(h.key, h.value);
  }
  add_cors(settings, res);
  res.keep_alive(keep_alive);
  if (code == 204 || code == 304 || code < 200) {
    res.body().clear();
    res.erase(http::field::content_type);
  } else {
    res.prepare_payload();
    if (head) {
      const std::size_t n = res.body().size();
      res.body().clear();
      res.content_length(n);
    }
  }
  return res;
}

HttpResponse error_response(const Settings& settings, int status, std::string body) {
  return build_response(settings, respond(status, std::move(body)), {}, false, false, false);
}

void write_head(const HttpResponse& res, std::string& out) {
  const std::string_view reason(res.reason().data(), res.reason().size());
  out.assign("HTTP/1.1 ");
  out += std::to_string(res.result_int());
  out += ' ';
  out += reason;
  out += "\r\n";
  for (const auto& f : res) {
    out.append(f.name_string().data(), f.name_string().size());
    out += ": ";
    out.append(f.value().data(), f.value().size());
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace portal::web

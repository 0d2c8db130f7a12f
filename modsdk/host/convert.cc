#include "host/convert.h"

namespace portal::host {

namespace {

void headers_to_pb(const Headers& in, google::protobuf::RepeatedPtrField<pb::Header>* out) {
  out->Reserve(static_cast<int>(in.size()));
  for (const Header& h : in) {
    pb::Header* p = out->Add();
    p->set_key(h.key);
    p->set_value(h.value);
  }
}

Headers headers_from_pb(const google::protobuf::RepeatedPtrField<pb::Header>& in) {
  Headers out;
  out.reserve(in.size());
  for (const pb::Header& h : in) out.push_back({h.key(), h.value()});
  return out;
}

bool identity_empty(const Identity& id) { return id.user.empty() && id.labels.empty() && id.asserted_by.empty(); }

void identity_to_pb(const Identity& in, pb::Identity& out) {
  out.set_user(in.user);
  for (const auto& l : in.labels) out.add_labels(l);
  out.set_asserted_by(in.asserted_by);
}

Identity identity_from_pb(const pb::Identity& in) {
  Identity id;
  id.user = in.user();
  id.labels.assign(in.labels().begin(), in.labels().end());
  id.asserted_by = in.asserted_by();
  return id;
}

// Absolute, no NUL, at most 1024 bytes: what every path, pattern and event path shares.
Status validate_common(std::string_view path, std::string_view what) {
  if (path.empty() || path.front() != '/') return make_error(400, std::string(what) + " must start with '/'");
  if (path.size() > 1024) return make_error(400, std::string(what) + " longer than 1024 bytes");
  if (path.find('\0') != std::string_view::npos) return make_error(400, "NUL byte in " + std::string(what));
  return {};
}

}  // namespace

void to_pb(const Message& in, pb::Message& out) {
  out.set_id(in.id);
  out.set_path(in.path);
  out.set_method(static_cast<pb::Method>(in.method));
  headers_to_pb(in.headers, out.mutable_headers());
  out.set_body(in.body);
  out.set_timeout_ms(static_cast<std::uint32_t>(in.timeout.count()));
  pb::Context* ctx = out.mutable_ctx();
  const Context& c = in.ctx;
  // Only hosts that speak for the router fill auth in; from a module the router discards it.
  if (!identity_empty(c.auth)) identity_to_pb(c.auth, *ctx->mutable_auth());
  if (!identity_empty(c.asserted)) identity_to_pb(c.asserted, *ctx->mutable_asserted());
  pb::Trace* t = ctx->mutable_trace();
  t->set_trace_id(c.trace.trace_id);
  t->set_parent_id(c.trace.parent_id);
  t->set_timestamp_us(c.trace.timestamp_us);
  t->set_hops(c.trace.hops);
  ctx->set_source_node(c.source_node);
  ctx->set_source_module(c.source_module);
  if (!c.credentials.empty() || !c.credentials.source.empty()) {
    pb::Credentials* cr = ctx->mutable_credentials();
    cr->set_api_key(c.credentials.api_key);
    cr->set_token(c.credentials.token);
    cr->set_username(c.credentials.username);
    cr->set_password(c.credentials.password);
    cr->set_source(c.credentials.source);
    if (c.credentials.peer_uid) cr->set_peer_uid(*c.credentials.peer_uid);
  }
}

Message from_pb(const pb::Message& in) {
  Message m;
  m.id = in.id();
  m.path = in.path();
  int method = in.method();
  m.method = (method >= 1 && method <= 7) ? static_cast<Method>(method) : Method::get;
  m.headers = headers_from_pb(in.headers());
  m.body = in.body();
  m.timeout = std::chrono::milliseconds(in.timeout_ms());
  const pb::Context& c = in.ctx();
  m.ctx.auth = identity_from_pb(c.auth());
  m.ctx.asserted = identity_from_pb(c.asserted());
  m.ctx.trace.trace_id = c.trace().trace_id();
  m.ctx.trace.parent_id = c.trace().parent_id();
  m.ctx.trace.timestamp_us = c.trace().timestamp_us();
  m.ctx.trace.hops = c.trace().hops();
  m.ctx.source_node = c.source_node();
  m.ctx.source_module = c.source_module();
  m.ctx.credentials.api_key = c.credentials().api_key();
  m.ctx.credentials.token = c.credentials().token();
  m.ctx.credentials.username = c.credentials().username();
  m.ctx.credentials.password = c.credentials().password();
  m.ctx.credentials.source = c.credentials().source();
  if (c.credentials().has_peer_uid()) m.ctx.credentials.peer_uid = c.credentials().peer_uid();
  return m;
}

void to_pb(const Response& in, std::uint64_t id, pb::Response& out) {
  out.set_id(id);
  out.set_status(static_cast<std::uint32_t>(in.status));
  headers_to_pb(in.headers, out.mutable_headers());
  out.set_body(in.body);
}

Response from_pb(const pb::Response& in) {
  Response r;
  r.status = static_cast<int>(in.status());
  r.headers = headers_from_pb(in.headers());
  r.body = in.body();
  return r;
}

void to_pb(const PathSpec& in, pb::PathSpec& out) {
  out.set_path(in.path);
  out.set_description(in.description);
  for (const auto& l : in.labels) out.add_labels(l);
  out.set_access(static_cast<std::uint32_t>(in.access));
}

PathSpec from_pb(const pb::PathSpec& in) {
  PathSpec s;
  s.path = in.path();
  s.description = in.description();
  for (const auto& l : in.labels()) s.labels.push_back(l);
  std::uint32_t a = in.access();
  s.access = (a >= 1 && a <= 3) ? static_cast<Access>(a) : Access::read_write;
  return s;
}

void to_pb(const EventSpec& in, pb::EventSpec& out) {
  out.set_path(in.path);
  out.set_description(in.description);
  for (const auto& l : in.labels) out.add_labels(l);
}

EventSpec from_pb(const pb::EventSpec& in) {
  EventSpec s;
  s.path = in.path();
  s.description = in.description();
  s.labels.assign(in.labels().begin(), in.labels().end());
  return s;
}

Status validate_path(std::string_view path) {
  if (Status s = validate_common(path, "path"); !s) return s;
  std::size_t star = path.find('*');
  if (star != std::string_view::npos && (star != path.size() - 1 || path[star - 1] != '/'))
    return make_error(400, "a wildcard may only be the last segment ('/a/*')");
  return {};
}

Status validate_event_path(std::string_view path) {
  if (Status s = validate_common(path, "event path"); !s) return s;
  if (!path.starts_with(kEventsPrefix) || path.size() == kEventsPrefix.size())
    return make_error(400, "an event path lies under /events/");
  if (path.find('*') != std::string_view::npos) return make_error(400, "an event path is exact: no '*'");
  return {};
}

Status validate_pattern(std::string_view pattern) {
  if (pattern == "*") return {};
  return validate_common(pattern, "pattern");
}

}  // namespace portal::host

#include "handlers.h"

#include <optional>

namespace portal::config_sqlite {

namespace {

constexpr std::size_t kMaxName = 64;
constexpr std::size_t kMaxKey = 128;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool valid(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max || s.front() == '.') return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

Response bad_request(std::string text) { return respond(status::bad_request, std::move(text) + "\n"); }

Response from_error(const Error& e) {
  std::string body = e.message;
  if (body.empty() || body.back() != '\n') body += '\n';
  return respond(e.code, std::move(body));
}

Response from_status(const Status& s) { return s ? respond(status::ok) : from_error(s.error()); }

Response unsupported(const Message& msg) {
  return bad_request("method " + std::string(method_label(msg.method)) + " not supported on " + msg.path);
}

// The request headers a call needs, in order; nullopt (and `error` set) when one is missing.
std::optional<std::vector<std::string>> required(const Message& msg, std::initializer_list<std::string_view> keys,
                                                 Response& error) {
  std::vector<std::string> out;
  for (std::string_view k : keys) {
    const std::string* v = msg.header(k);
    if (!v) {
      error = bad_request("missing header '" + std::string(k) + "'");
      return std::nullopt;
    }
    out.push_back(*v);
  }
  return out;
}

bool check_name(const std::string& name, std::string_view what, Response& error) {
  if (valid_name(name)) return true;
  error = bad_request("invalid " + std::string(what) +
                      ": must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with '.'");
  return false;
}

bool check_key(const std::string& key, Response& error) {
  if (valid_key(key)) return true;
  error = bad_request("invalid config key: must be 1-128 characters of A-Z a-z 0-9 . _ - not starting with '.'");
  return false;
}

Response name_list(const Result<std::vector<std::string>>& names) {
  if (!names) return from_error(names.error());
  Response r = respond(status::ok);
  for (const std::string& n : *names) r.headers.push_back({"name", n});
  return r;
}

// CALL with action=delete and a valid name: the name; otherwise `error` is the answer.
std::optional<std::string> delete_target(const Message& msg, std::string_view what, Response& error) {
  const std::string* action = msg.header("action");
  if (!action || *action != "delete") {
    error = bad_request("CALL needs header action=delete");
    return std::nullopt;
  }
  auto h = required(msg, {"name"}, error);
  if (!h || !check_name((*h)[0], what, error)) return std::nullopt;
  return (*h)[0];
}

}  // namespace

bool valid_name(std::string_view name) { return valid(name, kMaxName); }
bool valid_key(std::string_view key) { return valid(key, kMaxKey); }

Response users_request(Database& db, const Message& msg) {
  if (msg.method != Method::get) return unsupported(msg);
  return name_list(db.list_users());
}

Response user_request(Database& db, const Message& msg) {
  Response error;
  switch (msg.method) {
    case Method::get: {
      auto h = required(msg, {"name"}, error);
      if (!h || !check_name((*h)[0], "user name", error)) return error;
      Result<UserRow> u = db.load_user((*h)[0]);
      if (!u) return from_error(u.error());
      Response r = respond(status::ok);
      r.headers = {{"password_hash", u->password_hash}, {"api_key", u->api_key}, {"groups", u->groups}};
      return r;
    }
    case Method::set: {
      auto h = required(msg, {"name", "password_hash", "api_key", "groups"}, error);
      if (!h || !check_name((*h)[0], "user name", error)) return error;
      return from_status(db.save_user((*h)[0], UserRow{(*h)[1], (*h)[2], (*h)[3]}));
    }
    case Method::call: {
      std::optional<std::string> name = delete_target(msg, "user name", error);
      if (!name) return error;
      return from_status(db.delete_user(*name));
    }
    default:
      return unsupported(msg);
  }
}

Response groups_request(Database& db, const Message& msg) {
  if (msg.method != Method::get) return unsupported(msg);
  return name_list(db.list_groups());
}

Response group_request(Database& db, const Message& msg) {
  Response error;
  switch (msg.method) {
    case Method::get: {
      auto h = required(msg, {"name"}, error);
      if (!h || !check_name((*h)[0], "group name", error)) return error;
      Result<GroupRow> g = db.load_group((*h)[0]);
      if (!g) return from_error(g.error());
      Response r = respond(status::ok);
      r.headers = {{"description", g->description}, {"created_by", g->created_by}};
      return r;
    }
    case Method::set: {
      auto h = required(msg, {"name", "description", "created_by"}, error);
      if (!h || !check_name((*h)[0], "group name", error)) return error;
      return from_status(db.save_group((*h)[0], GroupRow{(*h)[1], (*h)[2]}));
    }
    case Method::call: {
      std::optional<std::string> name = delete_target(msg, "group name", error);
      if (!name) return error;
      return from_status(db.delete_group(*name));
    }
    default:
      return unsupported(msg);
  }
}

Response config_request(Database& db, const Message& msg) {
  Response error;
  switch (msg.method) {
    case Method::get: {
      auto h = required(msg, {"module", "key"}, error);
      if (!h || !check_name((*h)[0], "module name", error) || !check_key((*h)[1], error)) return error;
      Result<std::string> v = db.get_config((*h)[0], (*h)[1]);
      if (!v) return from_error(v.error());
      return respond(status::ok, std::move(*v));
    }
    case Method::set: {
      auto h = required(msg, {"module", "key", "value"}, error);
      if (!h || !check_name((*h)[0], "module name", error) || !check_key((*h)[1], error)) return error;
      return from_status(db.set_config(ConfigRow{(*h)[0], (*h)[1], (*h)[2]}));
    }
    default:
      return unsupported(msg);
  }
}

Response configs_request(Database& db, const Message& msg) {
  if (msg.method != Method::get) return unsupported(msg);
  std::string module = msg.header_or("module", "");
  Response error;
  if (!module.empty() && !check_name(module, "module name", error)) return error;
  Result<std::vector<ConfigRow>> rows = db.list_configs(module);
  if (!rows) return from_error(rows.error());
  Response r = respond(status::ok);
  for (ConfigRow& row : *rows) {
    r.headers.push_back({"module", std::move(row.module)});
    r.headers.push_back({"key", std::move(row.key)});
    r.headers.push_back({"value", std::move(row.value)});
  }
  return r;
}

}  // namespace portal::config_sqlite

#include "handlers.h"

#include <string>
#include <string_view>

namespace portal::config_psql {

namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxKeyLength = 128;
constexpr std::string_view kModulePrefix = "mod_";

// The rule of router/store/names.h: 1-max bytes of [A-Za-z0-9._-], not starting with '.'.
bool valid_name(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max || s.front() == '.') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

// The named header, checked as a name; nullptr and `error` filled when missing or invalid.
const std::string* name_header(const Message& msg, std::string_view key, std::size_t max, Response& error) {
  const std::string* v = msg.header(key);
  if (!v) {
    error = respond(status::bad_request, "missing header '" + std::string(key) + "'\n");
  } else if (!valid_name(*v, max)) {
    error = respond(status::bad_request, "invalid " + std::string(key) + ": must be 1-" + std::to_string(max) +
                                             " characters of A-Z a-z 0-9 . _ - not starting with '.'\n");
    v = nullptr;
  }
  return v;
}

Response failed(const Error& e) { return respond(e.code, "PostgreSQL error: " + e.message + "\n"); }

Response ok_headers(Headers headers) {
  Response r = respond(status::ok);
  r.headers = std::move(headers);
  return r;
}

Response bad_method(const Message& msg) {
  return respond(status::bad_request, "unsupported method " + std::string(method_label(msg.method)) + " on " +
                                          msg.path + "\n");
}

// CALL with action=delete; anything else is 400.
bool is_delete(const Message& msg, Response& error) {
  if (msg.method == Method::call && msg.header_or("action", "") == "delete") return true;
  error = msg.method == Method::call ? respond(status::bad_request, "unknown action: expected action=delete\n")
                                     : bad_method(msg);
  return false;
}

// The statements of one kind of record ("users" or "groups").
struct RecordSql {
  const char* list;
  const char* get;
  const char* upsert;
  const char* remove;
  std::vector<const char*> fields;  // response/request headers after `name`, in column order
};

const RecordSql kUsers{
    "SELECT username FROM users ORDER BY username",
    "SELECT password, api_key, \"groups\" FROM users WHERE username = $1",
    "INSERT INTO users (username, password, api_key, \"groups\") VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (username) DO UPDATE SET password = EXCLUDED.password, api_key = EXCLUDED.api_key, "
    "\"groups\" = EXCLUDED.\"groups\", updated_at = NOW()",
    "DELETE FROM users WHERE username = $1",
    {"password_hash", "api_key", "groups"}};

const RecordSql kGroups{
    "SELECT name FROM \"groups\" ORDER BY name",
    "SELECT description, created_by FROM \"groups\" WHERE name = $1",
    "INSERT INTO \"groups\" (name, description, created_by) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, created_by = EXCLUDED.created_by",
    "DELETE FROM \"groups\" WHERE name = $1",
    {"description", "created_by"}};

Response list_names(Backend& db, const RecordSql& sql) {
  return db.run([&](PGconn* c) {
    auto res = exec(c, sql.list);
    if (!res) return failed(res.error());
    Headers out;
    for (int i = 0; i < PQntuples(res->get()); ++i) out.push_back({"name", field(res->get(), i, 0)});
    return ok_headers(std::move(out));
  });
}

Response get_record(Backend& db, const RecordSql& sql, const std::string& name) {
  return db.run([&](PGconn* c) {
    auto res = exec(c, sql.get, {Param::text(name)});
    if (!res) return failed(res.error());
    if (PQntuples(res->get()) == 0) return respond(status::not_found, "not found: " + name + "\n");
    Headers out;
    for (std::size_t i = 0; i < sql.fields.size(); ++i)
      out.push_back({sql.fields[i], field(res->get(), 0, static_cast<int>(i))});
    return ok_headers(std::move(out));
  });
}

// One statement, so one transaction: PostgreSQL commits it before exec() returns, and
// only then is the answer 200.
Response save_record(Backend& db, const RecordSql& sql, const Message& msg, const std::string& name) {
  std::string v[3];
  for (std::size_t i = 0; i < sql.fields.size(); ++i) v[i] = msg.header_or(sql.fields[i], "");
  return db.run([&](PGconn* c) {
    auto res = sql.fields.size() == 3
                   ? exec(c, sql.upsert, {Param::text(name), Param::bytes(v[0]), Param::bytes(v[1]), Param::bytes(v[2])})
                   : exec(c, sql.upsert, {Param::text(name), Param::bytes(v[0]), Param::bytes(v[1])});
    return res ? respond(status::ok) : failed(res.error());
  });
}

Response delete_record(Backend& db, const RecordSql& sql, const std::string& name) {
  return db.run([&](PGconn* c) {
    auto res = exec(c, sql.remove, {Param::text(name)});
    return res ? respond(status::ok) : failed(res.error());
  });
}

Response record(Backend& db, const RecordSql& sql, const Message& msg) {
  Response error;
  const std::string* name = name_header(msg, "name", kMaxNameLength, error);
  if (!name) return error;
  switch (msg.method) {
    case Method::get: return get_record(db, sql, *name);
    case Method::set: return save_record(db, sql, msg, *name);
    default: return is_delete(msg, error) ? delete_record(db, sql, *name) : error;
  }
}

Response config_get(Backend& db, const std::string& module, const std::string& key) {
  return db.run([&](PGconn* c) {
    auto res = exec(c, "SELECT value FROM module_configs WHERE module = $1 AND key = $2",
                    {Param::text(module), Param::text(key)});
    if (!res) return failed(res.error());
    if (PQntuples(res->get()) == 0) return respond(status::not_found, "not found: " + key + "\n");
    return respond(status::ok, field(res->get(), 0, 0));
  });
}

Response config_set(Backend& db, const std::string& module, const std::string& key, const std::string& value) {
  return db.run([&](PGconn* c) {
    auto res = exec(c,
                    "INSERT INTO module_configs (module, key, value) VALUES ($1, $2, $3) "
                    "ON CONFLICT (module, key) DO UPDATE SET value = EXCLUDED.value, updated_at = NOW()",
                    {Param::text(module), Param::text(key), Param::bytes(value)});
    return res ? respond(status::ok) : failed(res.error());
  });
}

Response config(Backend& db, const Message& msg) {
  Response error;
  const std::string* module = name_header(msg, "module", kMaxNameLength, error);
  if (!module) return error;
  const std::string* key = name_header(msg, "key", kMaxKeyLength, error);
  if (!key) return error;
  std::string stored = std::string(kModulePrefix) + *module;
  if (msg.method == Method::get) return config_get(db, stored, *key);
  if (msg.method != Method::set) return bad_method(msg);
  const std::string* value = msg.header("value");
  if (!value) return respond(status::bad_request, "missing header 'value'\n");
  return config_set(db, stored, *key, *value);
}

// Every entry of one module, or of all modules (`module` absent or empty), as header
// triples. Rows whose module column lacks the mod_ prefix are not the router's: skipped.
Response configs(Backend& db, const Message& msg) {
  std::string module = msg.header_or("module", "");
  if (!module.empty() && !valid_name(module, kMaxNameLength)) {
    return respond(status::bad_request, "invalid module: must be 1-64 characters of A-Z a-z 0-9 . _ - not "
                                        "starting with '.'\n");
  }
  return db.run([&](PGconn* c) {
    auto res = module.empty()
                   ? exec(c, "SELECT module, key, value FROM module_configs WHERE starts_with(module, 'mod_') "
                             "ORDER BY module, key")
                   : exec(c, "SELECT module, key, value FROM module_configs WHERE module = $1 ORDER BY key",
                          {Param::text(std::string(kModulePrefix) + module)});
    if (!res) return failed(res.error());
    Headers out;
    for (int i = 0; i < PQntuples(res->get()); ++i) {
      out.push_back({"module", field(res->get(), i, 0).substr(kModulePrefix.size())});
      out.push_back({"key", field(res->get(), i, 1)});
      out.push_back({"value", field(res->get(), i, 2)});
    }
    return ok_headers(std::move(out));
  });
}

Response only_get(const Message& msg, const std::function<Response()>& fn) {
  return msg.method == Method::get ? fn() : bad_method(msg);
}

}  // namespace

Status register_paths(Core& core, std::shared_ptr<Backend> backend, std::vector<std::string>& registered) {
  const std::string base = "/" + std::string(core.module_name());
  const std::vector<std::string> storage{"sys.storage"};
  struct Route {
    const char* what;
    const char* description;
    Access access;
    Handler handler;
  };
  Backend& db = *backend;
  std::vector<Route> routes{
      {"users", "User names (sys.storage)", Access::read,
       [&db](const Message& m) { return only_get(m, [&] { return list_names(db, kUsers); }); }},
      {"user", "One user: GET, SET, CALL action=delete (sys.storage)", Access::read_write,
       [&db](const Message& m) { return record(db, kUsers, m); }},
      {"groups", "Group names (sys.storage)", Access::read,
       [&db](const Message& m) { return only_get(m, [&] { return list_names(db, kGroups); }); }},
      {"group", "One group: GET, SET, CALL action=delete (sys.storage)", Access::read_write,
       [&db](const Message& m) { return record(db, kGroups, m); }},
      {"config", "One module config key: GET, SET (sys.storage)", Access::read_write,
       [&db](const Message& m) { return config(db, m); }},
      {"configs", "Module config entries as module/key/value headers (sys.storage)", Access::read,
       [&db](const Message& m) { return only_get(m, [&] { return configs(db, m); }); }},
  };
  for (Route& r : routes) {
    // The handlers keep the backend alive for as long as the host holds them.
    Handler h = [backend, fn = std::move(r.handler)](const Message& m) { return fn(m); };
    std::string path = base + "/storage/" + r.what;
    Status s = core.register_path(
        {.path = path, .description = r.description, .labels = storage, .access = r.access}, std::move(h));
    if (!s) return s;
    registered.push_back(std::move(path));
  }
  std::string status_path = base + "/resources/status";
  Status s = core.register_path(
      {.path = status_path, .description = "PostgreSQL storage backend status", .access = Access::read},
      [backend](const Message&) { return respond(status::ok, backend->status_text()); });
  if (s) registered.push_back(std::move(status_path));
  return s;
}

}  // namespace portal::config_psql

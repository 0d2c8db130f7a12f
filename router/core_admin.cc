// /core/config/*, /core/locks*, /core/storage*, /core/resolve (COMPAT.md 2).
#include <algorithm>
#include <cctype>

#include "common/log.h"
#include "router/core_util.h"
#include "router/store/names.h"

namespace portal::router::core {

std::vector<std::string> split_list(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

bool is_secret_key(std::string_view key) {
  std::string lower(key);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::string_view word : {"pass", "key", "secret", "token"})
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

namespace {

constexpr std::string_view kMasked = "********";

// Settings portald reads to decide what code runs, with which privileges and limits: only
// the config file may change them, never a request (a bad value there would also stop the
// next start of portald).
bool file_only_key(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "library",    "run_as",       "no_new_privs", "isolation",          "transport",      "assert_identity",
      "peer_users", "storage_provider", "enabled", "threads",      "ring_bytes",         "busy_poll_us",   "restart",
      "timeout_ms", "queue_limit",  "start_timeout_ms", "backoff_initial_ms", "backoff_max_ms", "crash_limit",
      "crash_window_ms", "healthy_reset_ms"};
  if (key.rfind("limit_", 0) == 0) return true;
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

void config_get(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  std::string module = header(msg, "module"), key = header(msg, "key");
  if (module.empty() || key.empty()) return reply(r, origin, 400, "Need: module, key headers\n");
  auto value = r.module_setting(module, key);
  if (!value) return reply(r, origin, 404, "Config not found: " + module + "." + key + "\n");
  if (is_secret_key(key) && !may_administer(caller))
    return reply(r, origin, 403, "Config value is secret: " + module + "." + key + " (admins only)\n");
  reply(r, origin, 200, *value);
}

void config_set(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  if (!may_administer(caller)) return reply(r, origin, 403);
  std::string module = header(msg, "module"), key = header(msg, "key");
  const std::string* value = find_header(msg, "value");
  if (module.empty() || key.empty() || !value) return reply(r, origin, 400, "Need: module, key, value headers\n");
  if (Status s = store::validate_name(module, "module name"); !s) return reply(r, origin, 400, s.error().message + "\n");
  if (Status s = store::validate_config_key(key); !s) return reply(r, origin, 400, s.error().message + "\n");
  if (file_only_key(key))
    return reply(r, origin, 403, "'" + key + "' can only be changed in the config file\n");
  Later o = later(std::move(origin));
  std::string shown = module + "." + key;
  std::string body = "Set " + shown + " = " + *value + "\n";
  bool secret = is_secret_key(key);
  r.set_module_setting(module, key, *value, [&r, o, shown, body, secret, user = caller.user](Status s) {
    if (!s) return reply(r, *o, 500, "Could not store the setting: " + s.error().message + "\n");
    log::info("config", shown + " set by " + (user.empty() ? "-" : user) + (secret ? " (secret value)" : ""));
    reply(r, *o, 200, body);
  });
}

void config_list(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  std::string module = header(msg, "module");
  bool admin = may_administer(caller);
  std::string out = module.empty() ? "All module config:\n" : "Config for module '" + module + "':\n";
  auto settings = r.module_settings(module);
  char line[256];
  for (const auto& [k, v] : settings) {
    std::string key = k.substr(k.find('.') + 1);
    std::snprintf(line, sizeof line, "  %-40s = ", k.c_str());
    out += line;
    out += (is_secret_key(key) && !admin) ? std::string(kMasked) : v;
    out += '\n';
  }
  if (settings.empty()) out += "  (none)\n";
  reply(r, origin, 200, out);
}

}  // namespace

void handle_config(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  if (path == "/core/config/get") return config_get(r, caller, msg, std::move(origin));
  if (path == "/core/config/set") return config_set(r, caller, msg, std::move(origin));
  if (path == "/core/config/list") return config_list(r, caller, msg, std::move(origin));
  reply(r, origin, 404);
}

void handle_locks(Router& r, const Caller&, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  auto now = events::LockClock::now();
  std::string resource = header(msg, "resource"), owner = header(msg, "owner");
  events::LockAnswer a;
  if (path == "/core/locks") return reply(r, origin, 200, r.locks().listing(resource, now));
  if (path == "/core/locks/lock") a = r.locks().call_lock(resource, owner, now);
  else if (path == "/core/locks/unlock") a = r.locks().call_unlock(resource, owner);
  else if (path == "/core/locks/keepalive") a = r.locks().call_keepalive(resource, owner, now);
  else return reply(r, origin, 404);
  reply(r, origin, static_cast<std::uint32_t>(a.status), std::move(a.body));
}

// Storage answers come from the store thread: the loop never waits on a disk or a database.
void handle_storage(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  Later o = later(std::move(origin));
  auto text = std::make_shared<std::string>();
  auto status = std::make_shared<std::uint32_t>(200);
  auto finish = [&r, o, text, status](Status) { reply(r, *o, *status, *text); };
  if (path == "/core/storage") {
    std::string data_dir = r.auth().data_dir();
    return r.auth().with_store(
        [text, data_dir](store::StorageFanout& f) {
          *text = "Storage backends:\n  file: active (" + data_dir + ")\n";
          auto names = f.provider_names();
          for (const auto& n : names) *text += "  " + n + ": active\n";
          if (names.empty()) *text += "  (no database backends)\n";
          return Status{};
        },
        finish);
  }
  const std::string prefix = "/core/storage/";
  std::string rest = path.substr(prefix.size());
  std::string name = rest.substr(0, rest.find('/'));
  std::string tail = rest.substr(name.size());
  if (tail == "/resources/status") {
    return r.auth().with_store(
        [text, status, name](store::StorageFanout& f) {
          auto st = f.status_of(name);
          if (st) *text = std::move(*st);
          else *status = 404;
          return Status{};
        },
        finish);
  }
  if (tail == "/functions/sync") {
    if (!may_administer(caller)) return reply(r, *o, 403);
    return r.auth().with_store(
        [text, status, name](store::StorageFanout& f) {
          auto users = f.list_users();
          Status s = f.sync(name, true);
          if (!s) {
            *status = s.error().code == 404 ? 404 : 503;
            *text = *status == 404 ? std::string() : "Sync to " + name + " failed: " + s.error().message + "\n";
          } else {
            *text = "Synced " + std::to_string(users ? users->size() : 0) + " users to " + name + "\n";
          }
          return Status{};
        },
        finish);
  }
  reply(r, *o, 404);
}

// COMPAT.md 2 /core/resolve: the CLI's `cd`.
void handle_resolve(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  std::string cwd = header(msg, "cwd");
  if (cwd.empty() || cwd.front() != '/') cwd = "/";
  std::string target = header(msg, "target");
  std::string out;
  if (target.empty()) {
    out = cwd;
  } else if (target.front() == '/') {
    out = target;
  } else if (target == "..") {
    while (cwd.size() > 1 && cwd.back() == '/') cwd.pop_back();
    std::size_t slash = cwd.rfind('/');
    out = slash == 0 || slash == std::string::npos ? "/" : cwd.substr(0, slash);
  } else {
    out = (cwd.back() == '/' ? cwd : cwd + "/") + target;
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  if (out.find('\0') != std::string::npos || out.size() > 1024) return reply(r, origin, 404);
  bool found = out == "/";
  if (!found) {
    const std::string prefix = out + "/";
    for (const PathEntry* e : r.paths().sorted()) {
      if (!labels_allow(caller, e->labels)) continue;
      if (e->path == out || e->path.rfind(prefix, 0) == 0) {
        found = true;
        break;
      }
    }
  }
  if (!found) return reply(r, origin, 404);
  reply(r, origin, 200, out);
}

}  // namespace portal::router::core

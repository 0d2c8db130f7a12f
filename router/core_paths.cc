#include "router/core_paths.h"

#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/util.h"
#include "portal_build_config.h"
#include "router/core_util.h"
#include "router/router.h"

namespace portal::router {

namespace {

constexpr std::string_view kCorePrefixes[] = {"/core/", "/auth/", "/events/", "/users/", "/groups/"};

using core::header;
using core::pad;
using core::reply;

std::uint64_t uptime_s(const pb::ModuleStatus& s) {
  if (s.started_at_us() == 0 || s.pid() <= 0) return 0;
  std::uint64_t now = now_us();
  return now > s.started_at_us() ? (now - s.started_at_us()) / 1000000 : 0;
}

bool is_live(const ModuleEntry& m) { return m.ready && m.link; }

std::string status_text(Router& r) {
  return "Portal v" PORTAL_VERSION "\nStatus: running\nModules loaded: " + std::to_string(r.modules().size()) +
         "\nPaths registered: " + std::to_string(r.paths().size()) + "\n";
}

std::string modules_json(Router& r) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [name, m] : r.modules()) {
    arr.push_back({{"name", name},
                   {"version", m.version},
                   {"description", m.description},
                   {"state", m.status.state()},
                   {"pid", m.status.pid()},
                   {"restarts", m.status.restarts()},
                   {"uptime_s", uptime_s(m.status)},
                   {"msgs", m.msgs},
                   {"in_flight", m.in_flight},
                   {"generation", m.status.generation()},
                   {"isolation", m.status.isolation().empty() ? "process" : m.status.isolation()},
                   {"last_exit", m.status.last_exit()},
                   {"ready", is_live(m)}});
  }
  return arr.dump() + "\n";
}

std::string modules_text(Router& r) {
  std::string out = "Loaded modules:\n";
  char line[512];
  for (const auto& [name, m] : r.modules()) {
    if (!is_live(m)) continue;
    std::snprintf(line, sizeof line, "  %-16s v%-8s ", name.c_str(), m.version.c_str());
    out += line;
    out += m.description;
    out += '\n';
  }
  out += "\nProcesses:\n  " + pad("NAME", 16) + " " + pad("STATE", 11) + " " + pad("PID", 8) + " " +
         pad("RESTARTS", 9) + " " + pad("UPTIME", 9) + " MSGS\n";
  for (const auto& [name, m] : r.modules()) {
    std::string pid = m.status.pid() > 0 ? std::to_string(m.status.pid()) : "-";
    std::string up = m.status.pid() > 0 ? format_duration(uptime_s(m.status)) : "-";
    out += "  " + pad(name, 16) + " " + pad(m.status.state().empty() ? "unknown" : m.status.state(), 11) + " " +
           pad(pid, 8) + " " + pad(std::to_string(m.status.restarts()), 9) + " " + pad(up, 9) + " " +
           std::to_string(m.msgs) + "\n";
  }
  return out;
}

// GET /core/modules/<name>: one module in detail (the shell's `module status <m>`).
std::string module_text(const std::string& name, const ModuleEntry& m) {
  std::string pid = m.status.pid() > 0 ? std::to_string(m.status.pid()) : "-";
  return "Module: " + name + "\nVersion: " + (m.version.empty() ? "-" : m.version) + "\nDescription: " +
         m.description + "\nState: " + (m.status.state().empty() ? "unknown" : m.status.state()) +
         "\nReady: " + (is_live(m) ? "yes" : "no") + "\nPID: " + pid + "\nIsolation: " +
         (m.status.isolation().empty() ? "process" : m.status.isolation()) + "\nRestarts: " +
         std::to_string(m.status.restarts()) + "\nUptime: " +
         (m.status.pid() > 0 ? format_duration(uptime_s(m.status)) : "-") + "\nMessages: " + std::to_string(m.msgs) +
         "\nIn flight: " + std::to_string(m.in_flight) + "\nLast exit: " +
         (m.status.last_exit().empty() ? "-" : m.status.last_exit()) + "\n";
}

std::string paths_text(Router& r, const Caller& caller) {
  std::string out = "Registered paths:\n";
  char line[2200];
  for (const PathEntry* e : r.paths().sorted()) {
    if (!labels_allow(caller, e->labels)) continue;
    std::snprintf(line, sizeof line, "  %-40s \xe2\x86\x92 %s\n", e->path.c_str(), e->owner.c_str());
    out += line;
  }
  return out;
}

std::string ls_text(Router& r, const Caller& caller, std::string prefix) {
  if (prefix.empty()) prefix = "/";
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  std::string base = prefix == "/" ? "/" : prefix + "/";
  struct Child {
    std::string owner;  // set when the child itself is a path
    bool has_children = false;
  };
  std::map<std::string, Child> children;
  for (const PathEntry* e : r.paths().sorted()) {
    if (!labels_allow(caller, e->labels)) continue;
    if (e->path.size() <= base.size() || e->path.compare(0, base.size(), base) != 0) continue;
    std::string rest = e->path.substr(base.size());
    std::size_t slash = rest.find('/');
    if (slash == std::string::npos) {
      children[rest].owner = e->owner;
    } else {
      children[rest.substr(0, slash)].has_children = true;
    }
  }
  std::string out;
  char line[2200];
  for (const auto& [name, c] : children) {
    if (!c.owner.empty()) {
      std::snprintf(line, sizeof line, "  %-30s [%s]\n", name.c_str(), c.owner.c_str());
      out += line;
    }
    if (c.has_children) {
      std::snprintf(line, sizeof line, "  %-30s/\n", name.c_str());
      out += line;
    }
  }
  return out.empty() ? "  (empty)\n" : out;
}

void module_action(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  std::string name = msg.path().substr(std::string_view("/core/modules/").size());
  if (name.empty() || name.find('/') != std::string::npos) return reply(r, origin, 404, {});
  std::string action = header(msg, "action");
  if (action.empty() && msg.method() == pb::GET) {  // readable like the /core/modules list
    auto it = r.modules().find(name);
    if (it == r.modules().end()) return reply(r, origin, 404, "Module '" + name + "' not found\n");
    return reply(r, origin, 200, module_text(name, it->second));
  }
  if (!may_administer(caller)) return reply(r, origin, 403, {});
  if (action.empty()) return reply(r, origin, 400, "Missing 'action' header\n");
  static const std::set<std::string> known = {"load", "unload", "reload", "restart", "stop", "start"};
  if (!known.count(action)) return reply(r, origin, 400, "Unknown action: " + action + "\n");
  auto shared = std::make_shared<Origin>(std::move(origin));
  r.module_action(name, action, [&r, shared](std::uint32_t status, std::string text) {
    reply(r, *shared, status, std::move(text));
  });
}

}  // namespace

bool is_core_path(std::string_view path) {
  for (auto p : kCorePrefixes)
    if (path.substr(0, p.size()) == p) return true;
  return false;
}

bool is_reserved_path(std::string_view path) {
  for (std::string_view p : {"/core", "/auth", "/users", "/groups", "/events"}) {
    if (path == p) return true;
    if (path.size() > p.size() && path.substr(0, p.size()) == p && path[p.size()] == '/') {
      // /events/<module>/... belongs to modules; /events itself and /events/* do not.
      if (p == "/events") return path == "/events/*";
      return true;
    }
  }
  return false;
}

std::vector<std::pair<std::string, std::string>> core_events() {
  return {{"/events/acl/bypass", "A sys.see_all user saw rows the row filter would hide"},
          {"/events/auth/login", "A user logged in"},
          {"/events/auth/login_failed", "A login or password check failed"},
          {"/events/auth/key_rotated", "A user's API key was rotated"},
          {"/events/config/set", "A module setting was changed at runtime"}};
}

void register_core_paths(PathTable& table) {
  for (const char* p : {"/core/status", "/core/modules", "/core/paths", "/core/ls", "/core/resolve", "/auth/login",
                        "/auth/logout", "/auth/whoami", "/auth/key", "/auth/key/rotate", "/events", "/users",
                        "/groups", "/core/storage", "/core/config/get", "/core/config/set", "/core/config/list",
                        "/core/locks"}) {
    PathEntry e;
    e.path = p;
    e.owner = "core";
    e.access = 1;
    table.add(std::move(e));
  }
}

void handle_core(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  if (path == "/core/status") return reply(r, origin, 200, status_text(r));
  if (path == "/core/modules")
    return reply(r, origin, 200, header(msg, "format") == "json" ? modules_json(r) : modules_text(r));
  if (path == "/core/paths") return reply(r, origin, 200, paths_text(r, caller));
  if (path == "/core/ls") return reply(r, origin, 200, ls_text(r, caller, header(msg, "prefix")));
  if (path.rfind("/core/modules/", 0) == 0) return module_action(r, caller, msg, std::move(origin));
  if (path == "/core/resolve") return core::handle_resolve(r, caller, msg, std::move(origin));
  if (path.rfind("/core/config/", 0) == 0) return core::handle_config(r, caller, msg, std::move(origin));
  if (path == "/core/locks" || path.rfind("/core/locks/", 0) == 0)
    return core::handle_locks(r, caller, msg, std::move(origin));
  if (path == "/core/storage" || path.rfind("/core/storage/", 0) == 0)
    return core::handle_storage(r, caller, msg, std::move(origin));
  if (path.rfind("/auth/", 0) == 0) return core::handle_auth(r, caller, msg, std::move(origin));
  if (path == "/users" || path.rfind("/users/", 0) == 0) return core::handle_users(r, caller, msg, std::move(origin));
  if (path == "/groups" || path.rfind("/groups/", 0) == 0)
    return core::handle_groups(r, caller, msg, std::move(origin));
  if (path == "/events") return reply(r, origin, 200, r.events().listing(caller));
  reply(r, origin, 404, {});
}

}  // namespace portal::router

#include "supervisor/settings.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "common/ini.h"
#include "common/log.h"
#include "ipc/channel.h"
#include "supervisor/locate.h"
#include "supervisor/module_sources.h"

namespace portal::supervisor {

namespace fs = std::filesystem;
using config::Ini;
using config::IniEntry;

namespace {

constexpr std::uint32_t kMaxTimeoutMs = 24u * 3600 * 1000;

Error value_error(const IniEntry& e, const std::string& what) {
  return make_error(400, e.file + ":" + std::to_string(e.line) + ": [" + e.section + "] " + e.key + ": " + what +
                             ", got '" + e.value + "'");
}

const IniEntry* last_entry(const Ini& ini, std::string_view section, std::string_view key) {
  const auto& all = ini.entries();
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (it->section == section && it->key == key) return &*it;
  return nullptr;
}

bool parse_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && p == text.data() + text.size();
}

// Sets `out` from the entry, if any, checking [lo, hi].
template <class T>
Status read_uint(const IniEntry* e, std::uint64_t lo, std::uint64_t hi, T& out, bool bytes = false) {
  if (!e) return {};
  std::uint64_t v = 0;
  bool ok = bytes ? parse_bytes(e->value, v) : parse_u64(e->value, v);
  if (!ok || v < lo || v > hi)
    return value_error(*e, "expected " + std::string(bytes ? "a byte count" : "an integer") + " from " +
                               std::to_string(lo) + " to " + std::to_string(hi));
  out = static_cast<T>(v);
  return {};
}

template <class T>
Status read_enum(const IniEntry* e, std::initializer_list<std::pair<std::string_view, T>> names, T& out) {
  if (!e) return {};
  std::string expected;
  for (auto& [name, v] : names) {
    if (e->value == name) {
      out = v;
      return {};
    }
    expected += (expected.empty() ? "" : "|") + std::string(name);
  }
  return value_error(*e, "expected " + expected);
}

std::string absolute_from(const std::string& path, const std::string& base) {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base) / p;
  return p.lexically_normal().string();
}

bool valid_instance(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
  return s != "." && s != "..";
}

// "portal.conf" in /etc/portal/<instance>/ names the instance after its directory.
std::string default_instance(const fs::path& file) {
  std::string stem = file.stem().string();
  std::string parent = file.parent_path().filename().string();
  if (stem == "portal" && !parent.empty() && parent != "portal" && valid_instance(parent)) return parent;
  return valid_instance(stem) ? stem : "portal";
}

Status parse_core_paths(const Ini& ini, CoreSettings& c) {
  auto path = [&](const char* key, const std::string& fallback) {
    auto v = ini.get("core", key);
    return absolute_from(v && !v->empty() ? *v : fallback, c.config_dir);
  };
  c.data_dir = path("data_dir", c.config_dir);
  c.log_dir = path("log_dir", c.data_dir + "/log");
  c.run_dir = path("run_dir", c.data_dir + "/run");
  c.socket_path = path("socket_path", c.run_dir + "/portal.sock");
  c.ctl_socket = path("ctl_socket", c.run_dir + "/portalctl.sock");
  c.modules_dir = path("modules_dir", "");
  return {};
}

Result<CoreSettings> parse_core(const Ini& ini, const std::string& file) {
  CoreSettings c;
  fs::path abs = fs::absolute(file).lexically_normal();
  c.config_file = abs.string();
  c.config_dir = abs.parent_path().string();
  c.instance = default_instance(abs);
  if (const IniEntry* e = last_entry(ini, "core", "instance")) {
    if (!valid_instance(e->value)) return value_error(*e, "expected a name of letters, digits, '_', '-', '.'");
    c.instance = e->value;
  }
  if (auto s = parse_core_paths(ini, c); !s) return s.error();
  if (const IniEntry* e = last_entry(ini, "core", "log_level")) {
    if (!log::parse_level(e->value, c.level)) return value_error(*e, "expected error|warn|info|debug|trace");
    c.log_level = e->value == "warning" ? "warn" : e->value;
  }
  if (auto s = read_uint(last_entry(ini, "core", "request_timeout_ms"), 1, kMaxTimeoutMs, c.request_timeout_ms); !s)
    return s.error();
  if (auto s = read_uint(last_entry(ini, "core", "drain_ms"), 0, 600000, c.drain_ms); !s) return s.error();
  return c;
}

Status parse_hardening(const MergedSection& m, Hardening& h) {
  if (const IniEntry* e = m.get("run_as")) {
    auto colon = e->value.find(':');
    if (e->value.empty() || colon == 0 || colon + 1 == e->value.size()) return value_error(*e, "expected user[:group]");
    h.run_as = e->value;
  }
  if (const IniEntry* e = m.get("no_new_privs"); e && !config::parse_bool(e->value, h.no_new_privs))
    return value_error(*e, "expected true|false");
  if (const IniEntry* e = m.get("limit_nofile")) {
    std::uint64_t v = 0;
    if (auto s = read_uint(e, 1, 1u << 30, v); !s) return s;
    h.limit_nofile = v;
  }
  if (const IniEntry* e = m.get("limit_memory")) {
    std::uint64_t v = 0;
    if (auto s = read_uint(e, 1u << 20, UINT64_MAX, v, true); !s) return s;
    h.limit_memory = v;
  }
  return {};
}

// A duration in milliseconds, from `lo` to 24 h.
Status read_ms(const IniEntry* e, std::uint64_t lo, std::chrono::milliseconds& out) {
  std::uint32_t v = 0;
  if (!e) return {};
  if (auto s = read_uint(e, lo, kMaxTimeoutMs, v); !s) return s;
  out = std::chrono::milliseconds(v);
  return {};
}

Status parse_limits(const MergedSection& m, RestartLimits& l) {
  Status st;
  if (!(st = read_ms(m.get("backoff_initial_ms"), 0, l.backoff_initial))) return st;
  if (!(st = read_ms(m.get("backoff_max_ms"), 0, l.backoff_max))) return st;
  if (!(st = read_uint(m.get("crash_limit"), 0, 1000, l.crash_limit))) return st;
  if (!(st = read_ms(m.get("crash_window_ms"), 1, l.crash_window))) return st;
  if (!(st = read_ms(m.get("healthy_reset_ms"), 0, l.healthy_reset))) return st;
  if (l.backoff_initial <= l.backoff_max) return {};
  // Blame the cap when it was set, else the initial delay that exceeds the default cap.
  if (const IniEntry* e = m.get("backoff_max_ms"))
    return value_error(*e, "expected at least backoff_initial_ms (" + std::to_string(l.backoff_initial.count()) + ")");
  return value_error(*m.get("backoff_initial_ms"),
                     "expected at most backoff_max_ms (" + std::to_string(l.backoff_max.count()) + ")");
}

Status parse_module_keys(const MergedSection& m, ModuleSettings& s) {
  Status st;
  if (!(st = read_enum(m.get("isolation"), {{"process", Isolation::process}, {"inprocess", Isolation::inprocess}},
                       s.isolation)))
    return st;
  if (!(st = read_enum(
            m.get("restart"),
            {{"on-failure", RestartMode::on_failure}, {"always", RestartMode::always}, {"never", RestartMode::never}},
            s.restart)))
    return st;
  if (!(st = read_enum(m.get("transport"), {{"ring", Transport::ring}, {"uds", Transport::uds}}, s.transport)))
    return st;
  if (!(st = read_uint(m.get("threads"), 1, 1024, s.threads))) return st;
  if (!(st = read_uint(m.get("timeout_ms"), 1, kMaxTimeoutMs, s.timeout_ms))) return st;
  if (!(st = read_uint(m.get("queue_limit"), 1, 1000000, s.queue_limit))) return st;
  if (!(st = read_uint(m.get("ring_bytes"), ipc::kMinRingBytes, ipc::kMaxRingBytes, s.ring_bytes, true))) return st;
  if (!(st = read_uint(m.get("busy_poll_us"), 0, 1000000, s.busy_poll_us))) return st;
  if (!(st = read_uint(m.get("start_timeout_ms"), 1, kMaxTimeoutMs, s.start_timeout_ms))) return st;
  s.ring_bytes = ipc::normalize_ring_bytes(s.ring_bytes);
  if (!(st = parse_limits(m, s.limits))) return st;
  return parse_hardening(m, s.hardening);
}

Result<ModuleSettings> parse_module(const MergedSection& m, const CoreSettings& core, const SearchRoots& roots) {
  ModuleSettings s;
  s.name = m.name;
  s.timeout_ms = core.request_timeout_ms;
  if (auto st = parse_module_keys(m, s); !st) return st.error();
  for (const auto& [key, e] : m.entries) s.values[key] = e.value;
  std::string explicit_lib;
  if (const IniEntry* e = m.get("library")) {
    if (e->value.empty()) return value_error(*e, "expected a path");
    explicit_lib = absolute_from(e->value, fs::path(e->file).parent_path().string());
  }
  auto lib = find_library(s.name, explicit_lib, core.modules_dir, roots);
  if (lib)
    s.library = *lib;
  else
    s.library_error = lib.error().message;
  return s;
}

void flatten_into(Settings& out, const Ini& main, const std::vector<ModuleFile>& files,
                  const std::vector<ModuleFile>& runtime) {
  out.flat = main.flatten();
  for (const auto* list : {&files, &runtime})
    for (const auto& f : *list)
      for (const auto& e : f.ini.entries())
        if (e.section == "mod_" + f.name) out.flat[e.section + "." + e.key] = e.value;
  const CoreSettings& c = out.core;
  out.flat["core.instance"] = c.instance;
  out.flat["core.data_dir"] = c.data_dir;
  out.flat["core.log_dir"] = c.log_dir;
  out.flat["core.run_dir"] = c.run_dir;
  out.flat["core.socket_path"] = c.socket_path;
  out.flat["core.ctl_socket"] = c.ctl_socket;
  out.flat["core.log_level"] = c.log_level;
  out.flat["core.request_timeout_ms"] = std::to_string(c.request_timeout_ms);
  if (!c.modules_dir.empty()) out.flat["core.modules_dir"] = c.modules_dir;
  for (const char* key : {"users_file", "pid_file", "app_dir"})
    if (auto v = main.get("core", key); v && !v->empty())
      out.flat[std::string("core.") + key] = absolute_from(*v, c.config_dir);
}

}  // namespace

const char* to_string(Isolation v) { return v == Isolation::process ? "process" : "inprocess"; }
const char* to_string(Transport v) { return v == Transport::ring ? "ring" : "uds"; }
const char* to_string(RestartMode v) {
  switch (v) {
    case RestartMode::on_failure: return "on-failure";
    case RestartMode::always: return "always";
    case RestartMode::never: return "never";
  }
  return "?";
}

const ModuleSettings* Settings::find(const std::string& name) const {
  for (const auto& m : modules)
    if (m.name == name) return &m;
  return nullptr;
}

bool parse_bytes(std::string_view text, std::uint64_t& out) {
  std::uint64_t mult = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K': mult = 1ull << 10; break;
      case 'm':
      case 'M': mult = 1ull << 20; break;
      case 'g':
      case 'G': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) text.remove_suffix(1);
  }
  std::uint64_t v = 0;
  if (!parse_u64(text, v) || v > UINT64_MAX / mult) return false;
  out = v * mult;
  return true;
}

namespace {

// Everything after the main file is parsed; `path` is where it is (or stands in for).
Result<Settings> settings_from(const Ini& ini, const std::string& path, const SearchRoots& roots) {
  Settings out;
  auto core = parse_core(ini, path);
  if (!core) return core.error();
  out.core = std::move(*core);
  auto sources = collect_module_sources(ini, out.core.data_dir, out.warnings);
  if (!sources) return sources.error();
  for (const auto& m : sources->modules) {
    auto s = parse_module(m, out.core, roots);
    if (!s) return s.error();
    out.modules.push_back(std::move(*s));
  }
  flatten_into(out, ini, sources->files, sources->runtime);
  return out;
}

}  // namespace

Result<Settings> load_settings(const std::string& path, const SearchRoots& roots) {
  auto ini = config::load_ini_file(path);
  if (!ini) return ini.error();
  return settings_from(*ini, path, roots);
}

Result<Settings> load_settings_text(std::string_view text, const std::string& path, const SearchRoots& roots) {
  auto ini = config::parse_ini(text, path);
  if (!ini) return ini.error();
  auto out = settings_from(*ini, path, roots);
  if (out) out->core.config_text = std::string(text);
  return out;
}

Result<Settings> reload_settings(const CoreSettings& current, const SearchRoots& roots) {
  if (!current.config_text.empty()) return load_settings_text(current.config_text, current.config_file, roots);
  return load_settings(current.config_file, roots);
}

ConfigDiff diff_modules(const Settings& before, const Settings& after) {
  ConfigDiff d;
  for (const auto& m : after.modules) {
    const ModuleSettings* old = before.find(m.name);
    if (!old)
      d.added.push_back(m.name);
    else if (*old == m)
      d.unchanged.push_back(m.name);
    else
      d.changed.push_back(m.name);
  }
  for (const auto& m : before.modules)
    if (!after.find(m.name)) d.removed.push_back(m.name);
  return d;
}

}  // namespace portal::supervisor

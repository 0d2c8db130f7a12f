// portald's configuration: portal.conf (COMPAT.md 1.10) plus the per-module files, turned
// into typed, validated settings. Errors name the file and line of the offending value.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/module.h"
#include "portal/result.h"

namespace portal::supervisor {

enum class Isolation { process, inprocess };
enum class RestartMode { on_failure, always, never };
enum class Transport { ring, uds };

const char* to_string(Isolation v);
const char* to_string(RestartMode v);
const char* to_string(Transport v);

struct Hardening {
  std::string run_as;  // "user[:group]"; empty: keep portald's identity
  bool no_new_privs = true;
  std::optional<std::uint64_t> limit_nofile;
  std::optional<std::uint64_t> limit_memory;  // bytes, RLIMIT_AS

  bool operator==(const Hardening&) const = default;
};

// When a crashing module is restarted, and when it is given up on (DESIGN.md 4). The
// defaults are the design's; each module may set its own (README.md "Restart policy").
struct RestartLimits {
  std::chrono::milliseconds backoff_initial{100};  // 2nd consecutive crash; 0: never wait
  std::chrono::milliseconds backoff_max{30000};    // the doubling stops here
  std::uint32_t crash_limit = 5;                   // more exits within crash_window park; 0: never
  std::chrono::milliseconds crash_window{10000};
  std::chrono::milliseconds healthy_reset{60000};  // uptime that forgets consecutive crashes

  bool operator==(const RestartLimits&) const = default;
};

struct ModuleSettings {
  std::string name;
  Isolation isolation = Isolation::process;
  RestartMode restart = RestartMode::on_failure;
  Transport transport = Transport::ring;
  std::uint32_t threads = 2;
  std::uint32_t timeout_ms = 30000;
  std::uint32_t queue_limit = 1024;
  std::uint32_t ring_bytes = 1u << 20;
  std::uint32_t busy_poll_us = 0;
  std::uint32_t start_timeout_ms = 30000;  // spawn to hello; a worker slower than that is killed
  RestartLimits limits;
  Hardening hardening;
  std::string library;                        // resolved path; empty when not found
  std::string library_error;                  // why `library` is empty (names the paths tried)
  std::map<std::string, std::string> values;  // merged settings, keys without section

  bool operator==(const ModuleSettings&) const = default;
};

struct CoreSettings {
  std::string config_file;  // absolute
  std::string config_text;  // non-empty: the configuration is this text, not config_file's (--demo)
  std::string config_dir;
  std::string instance;
  std::string data_dir;
  std::string log_dir;
  std::string run_dir;
  std::string socket_path;
  std::string ctl_socket;
  std::string modules_dir;  // empty: build tree or installed default
  std::string log_level = "info";
  LogLevel level = LogLevel::info;
  std::uint32_t request_timeout_ms = 30000;
  std::uint32_t drain_ms = 5000;
};

struct Settings {
  CoreSettings core;
  std::vector<ModuleSettings> modules;      // in start order
  std::map<std::string, std::string> flat;  // "section.key" -> value, for Control.configure
  std::vector<std::string> warnings;        // for the caller to log

  const ModuleSettings* find(const std::string& name) const;
};

// Where binaries and module libraries are looked for (portal_build_config.h + /proc/self/exe;
// tests pass their own).
struct SearchRoots {
  std::string build_root;   // non-empty when portald runs from the build tree
  std::string module_dir;   // installed modules
  std::string libexec_dir;  // installed portal-router / portal-worker
};

SearchRoots default_search_roots();

// Reads `path` and the per-module files. Fails on a malformed file or a bad value; a module
// whose library is missing is not an error here (see ModuleSettings::library_error).
Result<Settings> load_settings(const std::string& path, const SearchRoots& roots);

// The same from `text` standing in for a file at `path` (portald --demo): errors name `path`
// and relative paths resolve against its directory, exactly as if the file were there. The
// text is kept in CoreSettings::config_text so that SIGHUP parses it again.
Result<Settings> load_settings_text(std::string_view text, const std::string& path, const SearchRoots& roots);

// SIGHUP: reads the configuration again from where `current` came from.
Result<Settings> reload_settings(const CoreSettings& current, const SearchRoots& roots);

// What a SIGHUP changes, by module name.
struct ConfigDiff {
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;
  std::vector<std::string> unchanged;
};

ConfigDiff diff_modules(const Settings& before, const Settings& after);

// Byte counts: "1048576", "64K", "1M", "2G" (powers of 1024).
bool parse_bytes(std::string_view text, std::uint64_t& out);

}  // namespace portal::supervisor

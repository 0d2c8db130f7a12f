// portald: runs one Portal instance in the foreground (docs/ARCHITECTURE.md, README.md here).
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "common/log.h"
#include "portal_build_config.h"
#include "supervisor/demo.h"
#include "supervisor/demo_conf.h"
#include "supervisor/exec.h"
#include "supervisor/locate.h"
#include "supervisor/sd_notify.h"
#include "supervisor/settings.h"
#include "supervisor/supervisor.h"

namespace {

using namespace portal;
using namespace portal::supervisor;

constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "Usage: portald -c FILE [-d] [--check]\n"
    "       portald --demo DIR [-d] [--check]\n"
    "Runs a Portal instance in the foreground: the router and one worker per module.\n"
    "\n"
    "  -c, --config FILE  configuration file (portal.conf)\n"
    "      --demo DIR     run the demo instance from the built-in configuration, with all\n"
    "                     its files in DIR (created 0700 if missing); not with -c\n"
    "  -d, --debug        log at debug level (overrides [core] log_level)\n"
    "      --check        validate the configuration and exit (0 valid, 1 not)\n"
    "  -h, --help         show this help\n"
    "  -v, --version      show the version\n"
    "\n"
    "SIGTERM/SIGINT stop the instance, SIGHUP reloads the configuration.\n";

struct Options {
  std::string config;
  bool config_given = false;  // -c, even with an empty name
  std::optional<std::string> demo;  // --demo DIR
  bool debug = false;
  bool check = false;
  bool help = false;
  bool version = false;
};

int usage_error(const std::string& what) {
  std::fprintf(stderr, "portald: %s (see portald --help)\n", what.c_str());
  return kExitUsage;
}

// --demo DIR: alone, and with a path that can be pasted into INI text. -1 when fine.
int check_demo_args(const Options& o) {
  if (!o.demo) return -1;
  if (o.config_given) return usage_error("use either -c FILE or --demo DIR, not both");
  if (o.demo->empty()) return usage_error("--demo needs a folder");
  for (char c : *o.demo)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return usage_error("--demo: the folder's path must not contain control characters");
  return -1;
}

// Returns -1 on success, else the exit code.
int parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= argc) return usage_error(std::string(a) + " needs a file");
      o.config = argv[++i];
      o.config_given = true;
    } else if (a.starts_with("--config=")) {
      o.config = std::string(a.substr(9));
      o.config_given = true;
    } else if (a.starts_with("-c") && a.size() > 2) {
      o.config = std::string(a.substr(2));
      o.config_given = true;
    } else if (a == "--demo") {
      if (i + 1 >= argc) return usage_error("--demo needs a folder");
      o.demo = argv[++i];
    } else if (a.starts_with("--demo=")) {
      o.demo = std::string(a.substr(7));
    } else if (a == "-d" || a == "--debug") {
      o.debug = true;
    } else if (a == "--check") {
      o.check = true;
    } else if (a == "-h" || a == "--help") {
      o.help = true;
    } else if (a == "-v" || a == "-V" || a == "--version") {
      o.version = true;
    } else {
      return usage_error("unknown argument '" + std::string(a) + "'");
    }
  }
  return check_demo_args(o);
}

// -c FILE, or the embedded demo configuration for --demo DIR (DIR created unless --check).
Result<Settings> load(const Options& o, const SearchRoots& roots) {
  if (!o.demo) return load_settings(o.config, roots);
  auto dir = prepare_demo_dir(*o.demo, !o.check);
  if (!dir) return dir.error();
  return load_demo_settings(embedded::kDemoConf, *dir, roots);
}

// What must hold before anything is spawned: every module's library is there, every
// run_as resolves. `check_only` skips the "needs root" test (--check as a normal user).
bool preflight(const Settings& s, bool check_only) {
  bool ok = true;
  for (const auto& m : s.modules) {
    if (!m.library_error.empty()) {
      std::fprintf(stderr, "portald: %s\n", m.library_error.c_str());
      ok = false;
    }
    if (m.hardening.run_as.empty()) continue;
    auto creds = resolve_run_as(m.hardening.run_as);
    if (!creds && !(check_only && creds.error().code == 403)) {
      std::fprintf(stderr, "portald: module '%s': %s\n", m.name.c_str(), creds.error().message.c_str());
      ok = false;
    }
  }
  return ok;
}

int check(const Settings& s) {
  if (!preflight(s, true)) return 1;
  std::string names;
  for (const auto& m : s.modules) names += (names.empty() ? "" : ", ") + m.name;
  std::string file = s.core.config_file + (s.core.config_text.empty() ? "" : " (embedded)");
  std::printf("%s: OK (instance %s, %zu module%s%s%s)\n", file.c_str(), s.core.instance.c_str(), s.modules.size(),
              s.modules.size() == 1 ? "" : "s", names.empty() ? "" : ": ", names.c_str());
  return 0;
}

// `banner`, when set, goes to stderr once the instance is started (--demo).
int run(Settings settings, const SearchRoots& roots, bool debug, const std::string& banner) {
  if (!preflight(settings, false)) return 1;
  auto programs = find_programs(roots);
  if (!programs) {
    std::fprintf(stderr, "portald: %s\n", programs.error().message.c_str());
    return 1;
  }
  log::set_level(debug ? LogLevel::debug : settings.core.level);
  for (const auto& w : settings.warnings) log::warn("portald", w);
  boost::asio::io_context io;
  Supervisor sup(io, std::move(settings), std::move(*programs), roots, SdNotifier::from_environment(), debug);
  if (auto st = sup.start(); !st) {
    std::fprintf(stderr, "portald: %s\n", st.error().message.c_str());
    return 1;
  }
  if (!banner.empty()) std::fputs(banner.c_str(), stderr);
  io.run();
  return sup.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (int rc = parse_args(argc, argv, o); rc >= 0) return rc;
  if (o.help) return std::fputs(kUsage, stdout), 0;
  if (o.version) return std::printf("portald (Portal) %s\n", PORTAL_VERSION), 0;
  if (o.config.empty() && !o.demo) return usage_error("no configuration file given: use -c FILE (or --demo DIR)");
  ::signal(SIGPIPE, SIG_IGN);
  SearchRoots roots = default_search_roots();
  auto settings = load(o, roots);
  if (!settings) {
    std::fprintf(stderr, "portald: %s\n", settings.error().message.c_str());
    return 1;
  }
  if (o.check) {
    for (const auto& w : settings->warnings) std::fprintf(stderr, "portald: warning: %s\n", w.c_str());
    return check(*settings);
  }
  std::string banner;
  if (o.demo) {
    auto root = ensure_demo_root(settings->core.data_dir);
    if (!root) {
      std::fprintf(stderr, "portald: %s\n", root.error().message.c_str());
      return 1;
    }
    banner = demo_banner(*settings, roots) + *root;
  }
  return run(std::move(*settings), roots, o.debug, banner);
}

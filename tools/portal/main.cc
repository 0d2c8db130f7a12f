// portal: create, delete, list, run and reach Portal instances (COMPAT.md 3.5).
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/ini.h"
#include "instance.h"
#include "layout.h"
#include "portal_build_config.h"
#include "run.h"

namespace {

using namespace portal::instance;

constexpr const char* kUsage =
    "Usage: portal [--prefix DIR] -C NAME       create an instance\n"
    "       portal [--prefix DIR] -D NAME       delete an instance (stops it first)\n"
    "       portal [--prefix DIR] -s            list instances and their state\n"
    "       portal [--prefix DIR] -n NAME [-f] [-d]   run an instance\n"
    "       portal -c FILE [-f] [-d]            run from a config file (default ./portal.conf)\n"
    "       portal [--prefix DIR] -n NAME -r    interactive shell of a running instance\n"
    "\n"
    "  -C NAME        create NAME: config, module configs, folders, root user (password and\n"
    "                 API key printed once), self-signed certificate, free ports, systemd unit\n"
    "  -D NAME        delete NAME (its data under var/lib and its logs stay)\n"
    "  -s             table of instances: INSTANCE STATUS PID HTTP HTTPS NODE MODULES\n"
    "  -n NAME        the instance NAME (<prefix>/etc/portal/NAME/portal.conf)\n"
    "  -c FILE        the configuration file\n"
    "  -f             stay in the foreground (systemd); default: run as a daemon\n"
    "  -d             debug logging\n"
    "  -r             connect to the instance's CLI socket in a raw terminal (Ctrl-D leaves)\n"
    "  --prefix DIR   the instance layout lives under DIR instead of /\n"
    "  -v, --version  print the version\n"
    "  -h, --help     this text\n";

struct Options {
  std::string prefix;
  std::optional<std::string> create, remove, name, config;
  bool list = false, foreground = false, debug = false, remote = false, help = false, version = false;
};

int usage_error(const std::string& what) {
  std::fprintf(stderr, "portal: %s (try --help)\n", what.c_str());
  return 2;
}

// -1: go on; else the exit code.
int parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::optional<std::string>& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (a == "-h" || a == "--help") o.help = true;
    else if (a == "-v" || a == "--version") o.version = true;
    else if (a == "-s") o.list = true;
    else if (a == "-f") o.foreground = true;
    else if (a == "-d") o.debug = true;
    else if (a == "-r") o.remote = true;
    else if (a == "-C") { if (!value(o.create)) return usage_error("-C needs a name"); }
    else if (a == "-D") { if (!value(o.remove)) return usage_error("-D needs a name"); }
    else if (a == "-n") { if (!value(o.name)) return usage_error("-n needs a name"); }
    else if (a == "-c") { if (!value(o.config)) return usage_error("-c needs a file"); }
    else if (a == "--prefix") {
      std::optional<std::string> p;
      if (!value(p)) return usage_error("--prefix needs a folder");
      o.prefix = *p;
    } else if (a.starts_with("--prefix=")) o.prefix = std::string(a.substr(9));
    else return usage_error("unknown argument '" + std::string(a) + "'");
  }
  int actions = (o.create ? 1 : 0) + (o.remove ? 1 : 0) + (o.list ? 1 : 0);
  if (actions > 1) return usage_error("use one of -C, -D, -s");
  if (o.name && o.config) return usage_error("use either -n NAME or -c FILE");
  return -1;
}

// The CLI socket of a config file: [mod_cli] socket, else <data_dir>/modules/core/mod_cli.conf.
std::string cli_socket_of(const std::string& config_file) {
  auto ini = portal::config::load_ini_file(config_file);
  if (!ini) return {};
  if (auto s = ini->get("mod_cli", "socket")) return *s;
  if (auto data = ini->get("core", "data_dir")) {
    auto mod = portal::config::load_ini_file(*data + "/modules/core/mod_cli.conf", "mod_cli");
    if (mod)
      if (auto s = mod->get("mod_cli", "socket")) return *s;
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (int rc = parse(argc, argv, o); rc >= 0) return rc;
  if (o.help) return std::fputs(kUsage, stdout), 0;
  if (o.version) return std::printf("Portal v%s\n", PORTAL_VERSION), 0;
  auto prefix = normalize_prefix(o.prefix);
  if (!prefix) return usage_error(prefix.error().message);
  if (o.list) return std::fputs(render(list(*prefix)).c_str(), stdout), 0;
  if (o.create || o.remove) {
    Layout l{*prefix, o.create ? *o.create : *o.remove};
    if (auto s = validate_name(l.name); !s) return usage_error(s.error().message);
    if (o.remove) {
      if (auto s = remove(l); !s) {
        std::fprintf(stderr, "portal: %s\n", s.error().message.c_str());
        return 1;
      }
      std::printf("Instance '%s' deleted (data in %s and logs in %s kept)\n", l.name.c_str(), l.lib_dir().c_str(),
                  l.log_dir().c_str());
      return 0;
    }
    auto c = create(l);
    if (!c) {
      std::fprintf(stderr, "portal: %s\n", c.error().message.c_str());
      return 1;
    }
    std::fputs(summary(l, *c).c_str(), stdout);
    return 0;
  }
  RunOptions run;
  std::optional<Layout> layout;
  if (o.name) {
    layout = Layout{*prefix, *o.name};
    if (auto s = validate_name(*o.name); !s) return usage_error(s.error().message);
    run.config = layout->config();
    run.pid_file = layout->pid_file();
    run.log_file = layout->log_dir() + "/portald.log";
  } else {
    run.config = o.config.value_or("portal.conf");
  }
  if (o.remote) {
    std::string socket = layout ? layout->cli_socket() : cli_socket_of(run.config);
    if (socket.empty()) return usage_error("no CLI socket in " + run.config);
    return remote_shell(socket);
  }
  if (layout && running_pid(*layout)) {
    std::fprintf(stderr, "portal: instance '%s' is already running (pid %d)\n", layout->name.c_str(),
                 running_pid(*layout));
    return 1;
  }
  run.foreground = o.foreground;
  run.debug = o.debug;
  return run_portald(run);
}

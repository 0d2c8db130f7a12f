#include "cli.h"

#include <charconv>
#include <vector>

#include "portal_build_config.h"

namespace portal::tools {

namespace {

using Apply = Status (*)(Options&, std::string_view value);

struct OptionSpec {
  std::string_view long_name;
  char short_name;       // 0: none
  std::string_view arg;  // empty: a flag
  std::string_view help;
  Apply apply;
  bool stops = false;  // --help, --version: nothing else is parsed
};

struct CommandSpec {
  std::string_view words;  // "get", "module list"
  std::string_view args;
  Command command;
  std::string_view help;
};

Error usage(std::string message) { return make_error(kExitUsage, std::move(message)); }

Status set_timeout(Options& o, std::string_view v) {
  std::uint64_t ms = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || ms == 0 || ms > 0xffffffffu)
    return usage("invalid --timeout '" + std::string(v) + "': expected milliseconds, more than 0");
  o.timeout = std::chrono::milliseconds(ms);
  return {};
}

const OptionSpec kOptions[] = {
    {"config", 'c', "CONFIG", "take the socket from this config ([mod_ctl] socket, else [core] ctl_socket)",
     [](Options& o, std::string_view v) -> Status { o.config_path = v; return {}; }},
    {"socket", 's', "SOCKET", "the control socket",
     [](Options& o, std::string_view v) -> Status { o.socket_path = v; return {}; }},
    {"verbose", 'v', "", "print the status code first, alone on a line",
     [](Options& o, std::string_view) -> Status { o.verbose = true; return {}; }},
    {"timeout", 0, "MS", "give up after MS milliseconds (default 30000)", set_timeout},
    {"body", 0, "TEXT", "the request body",
     [](Options& o, std::string_view v) -> Status { o.body = std::string(v); return {}; }},
    {"body-file", 0, "FILE", "the request body, read from FILE (- for stdin)",
     [](Options& o, std::string_view v) -> Status { o.body_file = std::string(v); return {}; }},
    {"api-key", 0, "KEY", "authenticate with an API key",
     [](Options& o, std::string_view v) -> Status { o.credentials.api_key = v; return {}; }},
    {"token", 0, "TOKEN", "authenticate with a session or bearer token",
     [](Options& o, std::string_view v) -> Status { o.credentials.token = v; return {}; }},
    {"user", 0, "NAME", "authenticate as NAME (with --password)",
     [](Options& o, std::string_view v) -> Status { o.credentials.username = v; return {}; }},
    {"password", 0, "PW", "the password of --user",
     [](Options& o, std::string_view v) -> Status { o.credentials.password = v; return {}; }},
    {"json", 0, "", "module list: print the router's JSON as is",
     [](Options& o, std::string_view) -> Status { o.json = true; return {}; }},
    {"help", 'h', "", "show this help and exit",
     [](Options& o, std::string_view) -> Status { o.command = Command::help; return {}; }, true},
    {"version", 0, "", "show the version and exit",
     [](Options& o, std::string_view) -> Status { o.command = Command::version; return {}; }, true},
};

const CommandSpec kCommands[] = {
    {"get", "PATH [key=value ...]", Command::get, "send GET PATH with these headers, print the response body"},
    {"set", "PATH [key=value ...]", Command::set, "send SET PATH (same arguments)"},
    {"call", "PATH [key=value ...]", Command::call, "send CALL PATH (same arguments)"},
    {"module list", "", Command::module_list, "the modules: NAME STATE PID RESTARTS UPTIME MSGS"},
    {"module restart", "NAME", Command::module_action, "restart a module"},
    {"module stop", "NAME", Command::module_action, "stop a module"},
    {"module start", "NAME", Command::module_action, "start a stopped or failed module"},
};

// "--name", "--name=value", "-c", "-cVALUE".
const OptionSpec* find_option(std::string_view arg, std::optional<std::string_view>& attached) {
  attached.reset();
  for (const OptionSpec& spec : kOptions) {
    if (arg.starts_with("--")) {
      std::string_view name = arg.substr(2);
      std::size_t eq = name.find('=');
      if (eq != std::string_view::npos) attached = name.substr(eq + 1);
      if (name.substr(0, eq) == spec.long_name) return &spec;
    } else if (spec.short_name && arg[1] == spec.short_name) {
      if (arg.size() > 2) attached = arg.substr(2);
      return &spec;
    }
    attached.reset();
  }
  return nullptr;
}

// Parses the option at args[i] (advancing i past its value); `stop` for --help/--version.
Status parse_option(std::span<const std::string_view> args, std::size_t& i, Options& o, bool& stop) {
  std::optional<std::string_view> attached;
  const OptionSpec* spec = find_option(args[i], attached);
  if (!spec) return usage("unknown option '" + std::string(args[i]) + "'");
  const std::string name = "--" + std::string(spec->long_name);
  std::string_view value;
  if (spec->arg.empty()) {
    if (attached) return usage("option " + name + " takes no value");
  } else if (attached) {
    value = *attached;
  } else if (i + 1 < args.size()) {
    value = args[++i];
  } else {
    return usage("option " + name + " needs a value (" + std::string(spec->arg) + ")");
  }
  stop = spec->stops;
  return spec->apply(o, value);
}

// The command whose words start `words`; `used` gets how many words it took.
const CommandSpec* find_command(const std::vector<std::string_view>& words, std::size_t& used) {
  for (const CommandSpec& spec : kCommands) {
    std::size_t space = spec.words.find(' ');
    used = space == std::string_view::npos ? 1 : 2;
    if (words.size() < used || words[0] != spec.words.substr(0, space)) continue;
    if (used == 1 || words[1] == spec.words.substr(space + 1)) return &spec;
  }
  return nullptr;
}

Status parse_headers(std::span<const std::string_view> args, Headers& out) {
  for (std::string_view a : args) {
    std::size_t eq = a.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return usage("expected key=value, got '" + std::string(a) + "'");
    out.push_back({std::string(a.substr(0, eq)), std::string(a.substr(eq + 1))});
  }
  return {};
}

Status parse_arguments(const CommandSpec& spec, std::span<const std::string_view> rest, Options& o) {
  const std::string cmd(spec.words);
  switch (spec.command) {
    case Command::get:
    case Command::set:
    case Command::call:
      if (rest.empty()) return usage("'" + cmd + "' needs a PATH");
      if (!rest[0].starts_with('/')) return usage("PATH must start with '/': '" + std::string(rest[0]) + "'");
      o.path = rest[0];
      return parse_headers(rest.subspan(1), o.headers);
    case Command::module_action:
      if (rest.empty()) return usage("'" + cmd + "' needs a module NAME");
      if (rest[0].empty() || rest[0].find('/') != std::string_view::npos)
        return usage("invalid module name '" + std::string(rest[0]) + "'");
      o.module = rest[0];
      o.action = spec.words.substr(spec.words.find(' ') + 1);
      rest = rest.subspan(1);
      break;
    default: break;
  }
  if (!rest.empty()) return usage("unexpected argument '" + std::string(rest[0]) + "'");
  return {};
}

Status parse_words(const std::vector<std::string_view>& words, Options& o) {
  if (words.empty()) return usage("no command given");
  std::size_t used = 0;
  const CommandSpec* spec = find_command(words, used);
  if (!spec && words[0] == "module")
    return usage(words.size() < 2 ? "'module' needs list, restart, stop or start"
                                  : "unknown module command '" + std::string(words[1]) + "'");
  if (!spec) return usage("unknown command '" + std::string(words[0]) + "'");
  o.command = spec->command;
  return parse_arguments(*spec, std::span(words).subspan(used), o);
}

Status check_combinations(const Options& o) {
  const bool sends_body = o.command == Command::get || o.command == Command::set || o.command == Command::call;
  if (!o.config_path.empty() && !o.socket_path.empty()) return usage("use either -c CONFIG or -s SOCKET, not both");
  if (o.body && o.body_file) return usage("use either --body or --body-file, not both");
  if ((o.body || o.body_file) && !sends_body) return usage("--body and --body-file go with get, set and call");
  if (o.credentials.username.empty() != o.credentials.password.empty())
    return usage("--user and --password go together");
  if (o.json && o.command != Command::module_list) return usage("--json goes with 'module list'");
  return {};
}

std::string padded(std::string s, std::size_t width) {
  s.resize(std::max(width, s.size() + 2), ' ');
  return s;
}

}  // namespace

Result<Options> parse_args(std::span<const std::string_view> args) {
  Options o;
  std::vector<std::string_view> words;
  bool only_words = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (only_words || a.size() < 2 || a[0] != '-') {
      words.push_back(a);
    } else if (a == "--") {
      only_words = true;
    } else {
      bool stop = false;
      if (Status st = parse_option(args, i, o, stop); !st) return st.error();
      if (stop) return o;
    }
  }
  if (Status st = parse_words(words, o); !st) return st.error();
  if (Status st = check_combinations(o); !st) return st.error();
  return o;
}

std::string help_text() {
  std::string s =
      "Usage: portalctl [OPTIONS] COMMAND [ARGS]\n\n"
      "Sends a request to a running Portal through its control socket (the ctl module).\n\nCommands:\n";
  for (const CommandSpec& c : kCommands)
    s += padded("  " + std::string(c.words) + (c.args.empty() ? "" : " ") + std::string(c.args), 34) +
         std::string(c.help) + "\n";
  s += "\nOptions:\n";
  for (const OptionSpec& o : kOptions) {
    std::string left = o.short_name ? std::string("  -") + o.short_name + ", " : std::string(6, ' ');
    left += "--" + std::string(o.long_name) + (o.arg.empty() ? "" : " " + std::string(o.arg));
    s += padded(std::move(left), 24) + std::string(o.help) + "\n";
  }
  s += "\nThe socket: -s SOCKET, else the one of -c CONFIG, else $PORTAL_CTL_SOCKET,\n"
       "else /run/portal/ctl.sock.\n"
       "Exit status: 0 success (2xx), 1 another status or a failed request, 2 usage error,\n"
       "3 cannot connect.\n";
  return s;
}

std::string version_text() { return std::string("portalctl (Portal) ") + PORTAL_VERSION + "\n"; }

Method command_method(Command c) {
  switch (c) {
    case Command::set: return Method::set;
    case Command::call:
    case Command::module_action: return Method::call;
    default: return Method::get;
  }
}

}  // namespace portal::tools

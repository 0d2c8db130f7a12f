// portalctl's command line: one table of options and one of commands, from which both the
// parser and --help are made (STYLE.md 8).
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "portal/message.h"
#include "portal/result.h"

namespace portal::tools {

enum class Command { help, version, get, set, call, module_list, module_action };

struct Options {
  Command command = Command::help;
  std::string config_path;  // -c
  std::string socket_path;  // -s
  bool verbose = false;     // -v: status code first, alone on a line
  bool json = false;        // module list: the router's JSON as is
  std::chrono::milliseconds timeout{30000};
  std::string path;    // get | set | call
  std::string module;  // module restart | stop | start
  std::string action;  // restart | stop | start
  Headers headers;     // key=value arguments
  std::optional<std::string> body;       // --body TEXT
  std::optional<std::string> body_file;  // --body-file FILE ("-": stdin)
  Credentials credentials;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // non-2xx status, or the request failed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConnect = 3;

// Parses the arguments after argv[0]. An error's message is one line, without the program
// name ("unknown option '--x'").
Result<Options> parse_args(std::span<const std::string_view> args);

std::string help_text();
std::string version_text();  // "portalctl (Portal) 2.0.0\n"

// The method of a get/set/call command.
Method command_method(Command c);

}  // namespace portal::tools

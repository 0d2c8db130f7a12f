// portalctl: sends one request to a running Portal through the ctl module's socket.
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "cli.h"
#include "commands.h"

int main(int argc, char** argv) {
  using namespace portal::tools;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  portal::Result<Options> options = parse_args(args);
  if (!options) {
    std::fprintf(stderr, "portalctl: %s\ntry portalctl --help\n", options.error().message.c_str());
    return kExitUsage;
  }
  if (options->command == Command::help) {
    std::fputs(help_text().c_str(), stdout);
    return kExitOk;
  }
  if (options->command == Command::version) {
    std::fputs(version_text().c_str(), stdout);
    return kExitOk;
  }
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  return run(*options, env, stdout, stderr);
}

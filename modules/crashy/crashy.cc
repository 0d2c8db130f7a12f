// crashy: a module that misbehaves on request, for tests and benchmarks of the hosts
// (crash isolation, deadlines, exit codes, nested calls, large bodies). Never installed.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "portal/module.h"

namespace {

using portal::Core;
using portal::Message;
using portal::Response;
using portal::respond;
namespace status = portal::status;

Response segfault(const Message&) {
  volatile int* volatile p = nullptr;
  *p = 1;
  return respond(status::ok, "survived\n");
}

volatile int g_bottom = -1;  // never reached: the stack runs out first

[[gnu::noinline]] int recurse(int depth) {
  if (depth == g_bottom) return 0;
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}

Response overflow(const Message&) { return respond(status::ok, std::to_string(recurse(0)) + "\n"); }

Response hang(const Message& m) {
  if (const std::string* ms = m.header("ms")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(ms->c_str())));
    return respond(status::ok, "slept " + *ms + " ms\n");
  }
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

Response exit_now(const Message& m) {
  std::string code = m.header_or("code", "0");
  std::_Exit(code == "fatal" ? portal::kExitFatalConfig : std::atoi(code.c_str()));
}

class CrashyModule final : public portal::Module {
 public:
  portal::Status load(Core& core) override {
    std::string fail = core.config("fail_load").value_or("");
    if (fail == "fatal") return portal::make_error(portal::kFatalConfig, "fail_load = fatal");
    if (fail == "error") return portal::make_error(status::internal_error, "fail_load = error");
    const std::pair<const char*, portal::Handler> routes[] = {
        {"/crashy/functions/segfault", segfault},
        {"/crashy/functions/overflow", overflow},
        {"/crashy/functions/abort", [](const Message&) -> Response { std::abort(); }},
        {"/crashy/functions/throw", [](const Message&) -> Response { throw std::runtime_error("crashy threw"); }},
        {"/crashy/functions/hang", hang},
        {"/crashy/functions/exit", exit_now},
        {"/crashy/resources/pid",
         [](const Message&) { return respond(status::ok, std::to_string(::getpid()) + "\n"); }},
        {"/crashy/functions/echo", [](const Message& m) { return respond(status::ok, m.body); }},
        {"/crashy/functions/call", [&core](const Message& m) { return call(core, m); }},
    };
    for (const auto& [path, handler] : routes) {
      portal::Status s = core.register_path({.path = path}, handler);
      if (!s) return s;
    }
    return {};
  }

 private:
  // Calls the path in header `path` synchronously (with this request's method and body).
  static Response call(Core& core, const Message& m) {
    const std::string* path = m.header("path");
    if (!path) return respond(status::bad_request, "header 'path' required\n");
    portal::Message out = portal::make_message(m.method, *path, m.body);
    if (const std::string* ms = m.header("timeout_ms")) out.timeout = std::chrono::milliseconds(std::atol(ms->c_str()));
    return core.send(std::move(out));
  }
};

}  // namespace

PORTAL_MODULE(CrashyModule, "crashy", "1.0.0", "Misbehaves on request (tests only)")

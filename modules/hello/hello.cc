// hello: the smallest useful module (COMPAT.md 5) and the example of docs/MODULE_GUIDE.md.
#include <ctime>
#include <string>

#include "portal/module.h"

namespace {

using portal::Message;
using portal::Response;

std::string local_time_text() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z\n", &tm);
  return buf;
}

class HelloModule final : public portal::Module {
 public:
  portal::Status load(portal::Core& core) override {
    portal::Status s = core.register_path(
        {.path = "/hello/resources/greeting", .description = "A greeting", .access = portal::Access::read},
        [](const Message&) { return portal::respond(portal::status::ok, "Hello from Portal!\n"); });
    if (!s) return s;
    return core.register_path(
        {.path = "/hello/resources/time", .description = "The server's local time", .access = portal::Access::read},
        [](const Message&) { return portal::respond(portal::status::ok, local_time_text()); });
  }
};

}  // namespace

PORTAL_MODULE(HelloModule, "hello", "1.0.0", "Example module: a greeting and the time")

// myapp: the example application module (COMPAT.md 5): a counter, a configurable message,
// and an admin-only reset.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "portal/module.h"

namespace {

using portal::Core;
using portal::Message;
using portal::Response;

constexpr const char* kDefaultMessage = "Hello from myapp";

class MyAppModule final : public portal::Module {
 public:
  portal::Status load(Core& core) override {
    set_message(core.config("message").value_or(kDefaultMessage));
    struct Route {
      const char* path;
      const char* description;
      portal::Access access;
      Response (MyAppModule::*fn)();
      std::vector<std::string> labels;
    };
    const Route routes[] = {
        {"/myapp/resources/status", "Counter and message", portal::Access::read, &MyAppModule::status, {}},
        {"/myapp/resources/counter", "The counter's value", portal::Access::read, &MyAppModule::counter, {}},
        {"/myapp/resources/message", "The configured message", portal::Access::read, &MyAppModule::message, {}},
        {"/myapp/functions/increment", "Adds one to the counter", portal::Access::write, &MyAppModule::increment, {}},
        {"/myapp/functions/reset", "Sets the counter to 0 (admin)", portal::Access::write, &MyAppModule::reset,
         {"admin"}},
    };
    for (const Route& r : routes) {
      portal::PathSpec spec{r.path, r.description, r.labels, r.access};
      auto fn = r.fn;
      portal::Status s = core.register_path(std::move(spec), [this, fn](const Message&) { return (this->*fn)(); });
      if (!s) return s;
    }
    return {};
  }

  void config_changed(Core& core, std::string_view key) override {
    if (key != "message") return;
    set_message(core.config("message").value_or(kDefaultMessage));
    core.log(portal::LogLevel::info, "message is now \"" + current_message() + "\"");
  }

 private:
  Response status() {
    return portal::respond(portal::status::ok, "MyApp Status\nCounter: " + std::to_string(counter_.load()) +
                                                   "\nMessage: " + current_message() + "\n");
  }
  Response counter() { return value_response(counter_.load()); }
  Response message() { return portal::respond(portal::status::ok, current_message() + "\n"); }
  Response increment() { return value_response(counter_.fetch_add(1) + 1); }
  Response reset() {
    counter_.store(0);
    return value_response(0);
  }

  static Response value_response(std::uint64_t v) {
    return portal::respond(portal::status::ok, std::to_string(v) + "\n");
  }
  void set_message(std::string m) {
    std::lock_guard lock(mu_);
    message_ = std::move(m);
  }
  std::string current_message() {
    std::lock_guard lock(mu_);
    return message_;
  }

  std::atomic<std::uint64_t> counter_{0};
  std::mutex mu_;
  std::string message_;
};

}  // namespace

PORTAL_MODULE(MyAppModule, "myapp", "1.0.0", "Example application: counter, message, admin reset")

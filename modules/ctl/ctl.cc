// mod_ctl: the control socket (README.md). Scripts and portalctl send framed Protobuf
// requests over a UNIX socket; each is forwarded to the router as the module's own message,
// carrying the client's credentials and never an identity.
#include <memory>
#include <string>

#include "portal/module.h"
#include "server.h"
#include "settings.h"

namespace portal::ctl {

inline constexpr const char* kStatusPath = "/ctl/resources/status";

class CtlModule final : public Module {
 public:
  Status load(Core& core) override {
    Result<Settings> settings = parse_settings([&core](std::string_view key) { return core.config(key); });
    if (!settings) return settings.error();
    auto server = std::make_shared<Server>(core, *settings);
    if (Status st = server->open(); !st) return st;
    Status st = core.register_path(
        {.path = kStatusPath, .description = "Control socket: path, clients, requests"},
        [server](const Message&) { return respond(status::ok, server->status_text()); });
    if (!st) {
      server->close();
      return st;
    }
    server_ = std::move(server);
    core.log(LogLevel::info, "listening on " + settings->socket);
    return {};
  }

  void unload(Core& core) override {
    if (!server_) return;
    (void)core.unregister_path(kStatusPath);
    server_->close();
    server_.reset();
  }

  void config_changed(Core& core, std::string_view key) override {
    if (!server_) return;
    Result<Settings> settings = parse_settings([&core](std::string_view k) { return core.config(k); });
    if (!settings) {
      core.log(LogLevel::warn, "configuration change ignored: " + settings.error().message);
      return;
    }
    server_->apply_limits(*settings);
    if (key == "socket" || key == "mode")
      core.log(LogLevel::info, std::string(key) + " changes when the module restarts");
  }

 private:
  std::shared_ptr<Server> server_;
};

}  // namespace portal::ctl

PORTAL_MODULE(portal::ctl::CtlModule, "ctl", "1.0.0", "Control socket for portalctl and scripts")

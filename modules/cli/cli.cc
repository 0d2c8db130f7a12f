// mod_cli: the interactive shell on a UNIX socket (README.md). A server-side
// line editor per client; every command is a request through the router
// carrying the client's credentials (login token, else its UNIX uid for the
// router's `peer_users` map).
#include <memory>
#include <string>

#include "portal/module.h"
#include "server.h"
#include "settings.h"

namespace portal::cli {

inline constexpr const char *kStatusPath = "/cli/resources/status";

class CliModule final : public Module {
 public:
  Status load(Core &core) override {
    Result<Settings> settings = parse_settings([&core](std::string_view key) { return core.config(key); });
    if (!settings) return settings.error();
    auto server = std::make_shared<Server>(core, *settings);
    if (Status st = server->open(); !st) return st;
    Status st = core.register_path({.path = kStatusPath, .description = "CLI socket: path, clients"},
                                   [server](const Message &) { return respond(status::ok, server->status_text()); });
    if (!st) {
      server->close();
      return st;
    }
    server_ = std::move(server);
    core.log(LogLevel::info, "listening on " + settings->socket);
    return {};
  }

  void unload(Core &core) override {
    if (!server_) return;
    (void)core.unregister_path(kStatusPath);
    server_->close();
    server_.reset();
  }

  void config_changed(Core &core, std::string_view key) override {
    core.log(LogLevel::info, std::string(key) + " changes when the module restarts");
  }

 private:
  std::shared_ptr<Server> server_;
};

}  // namespace portal::cli

PORTAL_MODULE(portal::cli::CliModule, "cli", "1.0.0", "Interactive shell on a UNIX socket")

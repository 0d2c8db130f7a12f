// mod_web: the HTTP/HTTPS gateway (README.md, COMPAT.md 3.1). Each request to /api/<path>
// is forwarded to the router as <path> with the client's credentials, never an identity;
// the router resolves them and answers 401/403 itself.
#include <memory>
#include <string>

#include "portal/module.h"
#include "server.h"
#include "settings.h"

namespace portal::web {

inline constexpr const char* kStatusPath = "/web/resources/status";

class WebModule final : public Module {
 public:
  Status load(Core& core) override {
    Result<Settings> settings = parse_settings([&core](std::string_view key) { return core.config(key); });
    if (!settings) return settings.error();
    auto server = std::make_shared<Server>(core, *settings);
    if (Status st = server->open(); !st) return st;
    Status st = core.register_path(
        {.path = kStatusPath, .description = "HTTP gateway: port, prefix, connections", .access = Access::read},
        [server](const Message&) { return respond(status::ok, server->status_text()); });
    if (!st) {
      server->close();
      return st;
    }
    server_ = std::move(server);
    std::string where = "listening on " + settings->bind + " port " + std::to_string(server_->port());
    if (settings->tls_on()) where += ", HTTPS on port " + std::to_string(server_->tls_port());
    core.log(LogLevel::info, where + ", prefix " + settings->api_prefix);
    return {};
  }

  void unload(Core& core) override {
    if (!server_) return;
    (void)core.unregister_path(kStatusPath);
    server_->close();
    server_.reset();
  }

  void config_changed(Core& core, std::string_view key) override {
    core.log(LogLevel::info, std::string(key) + " changes when the module restarts");
  }

 private:
  std::shared_ptr<Server> server_;
};

}  // namespace portal::web

PORTAL_MODULE(portal::web::WebModule, "web", "1.0.0", "HTTP/HTTPS REST gateway with server-sent events")

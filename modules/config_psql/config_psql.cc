// config_psql: a storage provider on PostgreSQL (docs/PROTOCOL.md §10, COMPAT.md 1.9,
// README.md). The router sends it every user, group and module-config write and reads
// from it; the module keeps one libpq connection and reconnects by itself.
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "handlers.h"
#include "portal/module.h"
#include "settings.h"

namespace {

class ConfigPsqlModule final : public portal::Module {
 public:
  portal::Status load(portal::Core& core) override {
    auto settings = portal::config_psql::parse_settings([&core](std::string_view key) { return core.config(key); });
    if (!settings) return settings.error();
    backend_ = std::make_shared<portal::config_psql::Backend>(std::move(*settings), core);
    if (portal::Status s = portal::config_psql::register_paths(core, backend_, paths_); !s) return s;
    // A server that is down is not a load failure: the paths answer 503 until the
    // background retries connect.
    backend_->start();
    return {};
  }

  void unload(portal::Core& core) override {
    for (const std::string& path : paths_) (void)core.unregister_path(path);
    paths_.clear();
    if (backend_) backend_->stop();
    backend_.reset();
  }

 private:
  std::shared_ptr<portal::config_psql::Backend> backend_;
  std::vector<std::string> paths_;
};

}  // namespace

PORTAL_MODULE(ConfigPsqlModule, "config_psql", "1.0.0", "PostgreSQL storage provider for users, groups and configs")

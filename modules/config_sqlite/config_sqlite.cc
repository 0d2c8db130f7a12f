// config_sqlite: a storage provider (docs/PROTOCOL.md §10, COMPAT.md 1.9) keeping users,
// groups and module settings in one SQLite file. The router attaches it to its store when
// `storage_provider = sqlite` is set, reads from it and sends it every write.
#include <memory>
#include <string>
#include <vector>

#include "database.h"
#include "handlers.h"
#include "portal/module.h"
#include "settings.h"

namespace {

using portal::Core;
using portal::Message;
using portal::Response;
using portal::Status;
namespace cs = portal::config_sqlite;

// Only the router (and root) may call the storage paths.
const std::vector<std::string> kStorageLabels = {"sys.storage"};

class ConfigSqliteModule final : public portal::Module {
 public:
  Status load(Core& core) override {
    portal::Result<cs::Settings> settings =
        cs::parse_settings([&core](std::string_view key) { return core.config(key); });
    if (!settings) return settings.error();
    portal::Result<std::unique_ptr<cs::Database>> db = cs::Database::open(settings->database, settings->busy_timeout);
    if (!db) return db.error();
    db_ = std::shared_ptr<cs::Database>(std::move(*db));
    log_open(core);
    return register_paths(core);
  }

  void unload(Core& core) override {
    for (const std::string& p : paths_) (void)core.unregister_path(p);
    paths_.clear();
    if (db_) db_->close();
  }

  void config_changed(Core& core, std::string_view key) override {
    if (key == "busy_timeout_ms") {
      portal::Result<std::chrono::milliseconds> t = cs::parse_busy_timeout(core.config(key));
      if (!t) {
        core.log(portal::LogLevel::warn, t.error().message + "; keeping the previous value");
        return;
      }
      if (db_) db_->set_busy_timeout(*t);
    } else if (key == "database") {
      core.log(portal::LogLevel::warn, "database changed: takes effect when the module restarts");
    }
  }

 private:
  using Route = portal::Response (*)(cs::Database&, const Message&);

  void log_open(Core& core) {
    const cs::MigrationReport& m = db_->migration();
    std::string text = "opened " + db_->path() + " (schema version " + std::to_string(m.to);
    if (m.migrated()) text += ", migrated from version " + std::to_string(m.from);
    core.log(portal::LogLevel::info, text + ")");
    if (db_->journal_mode() != "wal")
      core.log(portal::LogLevel::warn,
               "journal_mode is '" + db_->journal_mode() + "', not WAL (file system without WAL support?)");
  }

  Status add(Core& core, portal::PathSpec spec, portal::Handler handler) {
    std::string path = spec.path;
    Status s = core.register_path(std::move(spec), std::move(handler));
    if (s) paths_.push_back(std::move(path));
    return s;
  }

  Status register_paths(Core& core) {
    const std::string base = "/" + std::string(core.module_name());
    struct Item {
      const char* suffix;
      const char* description;
      Route route;
      portal::Access access;
    };
    const Item items[] = {
        {"/storage/users", "Storage: list users", cs::users_request, portal::Access::read},
        {"/storage/user", "Storage: get, save or delete a user", cs::user_request, portal::Access::read_write},
        {"/storage/groups", "Storage: list groups", cs::groups_request, portal::Access::read},
        {"/storage/group", "Storage: get, save or delete a group", cs::group_request, portal::Access::read_write},
        {"/storage/config", "Storage: get or set a module setting", cs::config_request, portal::Access::read_write},
        {"/storage/configs", "Storage: list module settings", cs::configs_request, portal::Access::read},
    };
    std::shared_ptr<cs::Database> db = db_;
    for (const Item& it : items) {
      Route route = it.route;
      Status s =
          add(core,
              {.path = base + it.suffix, .description = it.description, .labels = kStorageLabels, .access = it.access},
              [db, route](const Message& msg) { return route(*db, msg); });
      if (!s) return s;
    }
    return add(
        core,
        {.path = base + "/resources/status", .description = "SQLite storage status", .access = portal::Access::read},
        [db](const Message&) { return portal::respond(portal::status::ok, db->status_text()); });
  }

  std::shared_ptr<cs::Database> db_;
  std::vector<std::string> paths_;
};

}  // namespace

PORTAL_MODULE(ConfigSqliteModule, "config_sqlite", "1.0.0", "SQLite storage provider for users, groups and settings")

// Storage providers through real processes: the config_sqlite module attached to the
// router's store (docs/PROTOCOL.md 10, issue 5).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "instance.h"

namespace portal::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// SELECT count(*) ... with one text parameter.
int count(const std::string& db, const std::string& sql, const std::string& arg) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return -1;
  }
  sqlite3_busy_timeout(h, 2000);
  sqlite3_stmt* st = nullptr;
  int n = -1;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, arg.data(), static_cast<int>(arg.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

bool wait_attached(Instance& inst, const std::string& provider) {
  for (int i = 0; i < 300; ++i) {
    auto r = inst.get("/core/storage");
    if (r && r->body.find("  " + provider + ": active\n") != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::vector<ModuleConf> with_sqlite(const std::string& db) {
  return {{"myapp", {}}, {"config_sqlite", {{"storage_provider", "sqlite"}, {"database", db}}}};
}

TEST(Storage, SqliteGetsEveryWriteAndIsReadBackAtStart) {
  char tmpl[] = "/tmp/portal-sqlite-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string db = dir + "/portal.db";
  {
    Instance inst(with_sqlite(db));
    ASSERT_TRUE(inst.start()) << inst.log();
    ASSERT_TRUE(wait_attached(inst, "sqlite")) << inst.log();
    EXPECT_EQ(count(db, "SELECT count(*) FROM users WHERE username = ?", "root"), 1) << "pushed at attach";
    auto r = inst.admin(Method::set, "/users/carol", {{"password", "carol-pw"}, {"groups", "staff"}});
    ASSERT_EQ(r->status, 201);
    r = inst.admin(Method::set, "/groups/ops", {{"description", "Operators"}});
    ASSERT_EQ(r->status, 201);
    r = inst.admin(Method::call, "/core/config/set", {{"module", "myapp"}, {"key", "message"}, {"value", "from sqlite"}});
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(count(db, "SELECT count(*) FROM users WHERE username = ?", "carol"), 1);
    EXPECT_EQ(count(db, "SELECT count(*) FROM groups WHERE name = ?", "ops"), 1);
    EXPECT_EQ(count(db, "SELECT count(*) FROM module_configs WHERE module = ?", "mod_myapp"), 1);
    r = inst.get("/core/storage/sqlite/resources/status");
    EXPECT_EQ(r->body.rfind("SQLite Storage Backend\nFile: " + db + "\n", 0), 0u) << r->body;
    EXPECT_EQ(inst.get("/core/storage/sqlite/functions/sync")->status, 403);
    r = inst.admin(Method::call, "/core/storage/sqlite/functions/sync");
    EXPECT_EQ(r->body.rfind("Synced ", 0), 0u) << r->body;
    EXPECT_EQ(inst.get("/config_sqlite/storage/users")->status, 403) << "only the router reads the provider";
    r = inst.as(Credentials{.username = "carol", .password = "carol-pw"}, Method::call, "/auth/key/rotate");
    ASSERT_EQ(r->status, 200);
    ASSERT_TRUE(inst.stop());
    // The file store loses carol and the runtime setting; the provider still has them.
    fs::remove(inst.data_dir() + "/users/carol.conf");
    fs::remove(inst.data_dir() + "/settings/mod_myapp.conf");
    ASSERT_TRUE(inst.start()) << inst.log();
    ASSERT_TRUE(wait_attached(inst, "sqlite"));
    bool back = false;
    for (int i = 0; i < 200 && !back; ++i) {
      back = inst.get("/users/carol")->status == 200;
      if (!back) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(back) << "read from the provider at start";
    EXPECT_EQ(inst.as(Credentials{.username = "carol", .password = "carol-pw"}, Method::get, "/auth/whoami")->body,
              "User: carol\nLabels: staff\n");
    EXPECT_EQ(inst.get("/core/config/get", {{"module", "myapp"}, {"key", "message"}})->body, "from sqlite");
    EXPECT_TRUE(fs::exists(inst.data_dir() + "/users/carol.conf")) << "and written back to the file store";
  }
  fs::remove_all(dir);
}

TEST(Storage, ADatabaseThatIsNotSqliteFailsTheModuleNotTheInstance) {
  char tmpl[] = "/tmp/portal-sqlite-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string db = dir + "/portal.db";
  std::ofstream(db) << "this is not an SQLite database, just text that looks nothing like one\n";
  Instance inst(with_sqlite(db));
  ASSERT_TRUE(inst.start()) << inst.log();
  ASSERT_TRUE(inst.wait_module("config_sqlite", [](const nlohmann::json& m) { return m.value("state", "") == "failed"; }))
      << inst.log();
  EXPECT_NE(inst.log().find(db), std::string::npos) << "the error names the file";
  auto r = inst.admin(Method::set, "/users/dave", {{"password", "x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << "the file store keeps serving";
  EXPECT_EQ(inst.get("/users/dave")->status, 200);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace portal::itest

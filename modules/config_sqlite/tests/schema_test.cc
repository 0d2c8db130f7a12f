// Opening the file: schema version, migrations, reopening, files that are not SQLite,
// configuration errors; and the Database class directly (closed state).
#include "database.h"
#include "fixture.h"
#include "settings.h"

namespace portal::config_sqlite::test {
namespace {

using SchemaTest = ModuleTest;

// The version-1 schema as COMPAT.md 1.9 writes it, built by hand (not by the module).
void create_v1_by_hand(const std::string& path) {
  Db db(path);
  db.exec(
      "CREATE TABLE users(username TEXT PRIMARY KEY, password TEXT NOT NULL DEFAULT '', api_key TEXT NOT NULL DEFAULT "
      "'',"
      " \"groups\" TEXT NOT NULL DEFAULT '', created_at TEXT DEFAULT (datetime('now')),"
      " updated_at TEXT DEFAULT (datetime('now')));"
      "CREATE TABLE \"groups\"(name TEXT PRIMARY KEY, description TEXT DEFAULT '', created_by TEXT DEFAULT '',"
      " created_at TEXT DEFAULT (datetime('now')));"
      "CREATE TABLE module_configs(module TEXT, key TEXT, value TEXT DEFAULT '', PRIMARY KEY(module, key));"
      "CREATE TABLE schema_version(version INTEGER NOT NULL);"
      "INSERT INTO schema_version VALUES(1);"
      "INSERT INTO users(username, password, \"groups\") VALUES('root', 'h', 'root,admin');"
      "INSERT INTO module_configs VALUES('mod_web', 'port', '8080');");
}

TEST_F(SchemaTest, NewFileIsMigratedAndVersionRecorded) {
  Status s = load();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(stub().logged("schema version 1, migrated from version 0"));
  ASSERT_TRUE(stub().unload());
  Db db(db_path_);
  EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"1"});
  EXPECT_EQ(db.scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(db.column("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            (std::vector<std::string>{"groups", "module_configs", "schema_version", "users"}));
}

TEST_F(SchemaTest, ReopeningKeepsData) {
  ASSERT_TRUE(load());
  ASSERT_EQ(save_user(stub(), "alice", "h1", "key", "users").status, 200);
  ASSERT_EQ(
      call(stub(), Method::set, "/storage/group", {{"name", "g"}, {"description", "d"}, {"created_by", "c"}}).status,
      200);
  ASSERT_EQ(call(stub(), Method::set, "/storage/config", {{"module", "web"}, {"key", "port"}, {"value", "1"}}).status,
            200);
  reload();
  EXPECT_FALSE(stub().logged("migrated"));
  EXPECT_TRUE(stub().logged("schema version 1)"));
  Response r = call(stub(), Method::get, "/storage/user", {{"name", "alice"}});
  EXPECT_EQ(value(r, "password_hash"), "h1");
  EXPECT_EQ(value(r, "api_key"), "key");
  EXPECT_EQ(value(call(stub(), Method::get, "/storage/group", {{"name", "g"}}), "description"), "d");
  EXPECT_EQ(call(stub(), Method::get, "/storage/config", {{"module", "web"}, {"key", "port"}}).body, "1");
  Db db(db_path_);
  EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"1"});
}

TEST_F(SchemaTest, VersionOneOpensWithoutMigration) {
  create_v1_by_hand(db_path_);
  Status s = load();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(stub().logged("migrated"));
  Response r = call(stub(), Method::get, "/storage/user", {{"name", "root"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(value(r, "groups"), "root,admin");
  EXPECT_EQ(call(stub(), Method::get, "/storage/config", {{"module", "web"}, {"key", "port"}}).body, "8080");
  ASSERT_EQ(save_user(stub(), "root", "h2").status, 200);
  ASSERT_TRUE(stub().unload());
  Db db(db_path_);
  EXPECT_EQ(db.column("SELECT version FROM schema_version"), std::vector<std::string>{"1"});
}

TEST_F(SchemaTest, NewerSchemaIsRefused) {
  create_v1_by_hand(db_path_);
  {
    Db db(db_path_);
    db.exec("UPDATE schema_version SET version = 99");
  }
  Status s = load();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_NE(s.error().message.find("schema version 99"), std::string::npos) << s.error().message;
}

TEST_F(SchemaTest, FileThatIsNotSqliteIsFatal) {
  const std::string garbage = std::string("this is not a database, just some text\n") + std::string(4096, 'x');
  write_file(db_path_, garbage);
  Status s = load();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_NE(s.error().message.find(db_path_), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("not a database"), std::string::npos) << s.error().message;
  EXPECT_FALSE(stub().loaded());
  std::printf("[ message ] %s\n", s.error().message.c_str());
  // The file was not touched.
  EXPECT_EQ(fs::file_size(db_path_), garbage.size());
  EXPECT_FALSE(fs::exists(db_path_ + "-wal"));
}

TEST_F(SchemaTest, CorruptFileIsFatal) {
  ASSERT_TRUE(load());
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(save_user(stub(), "user" + std::to_string(i), std::string(200, 'p')).status, 200);
  ASSERT_TRUE(stub().unload());  // last connection: checkpoints the WAL into the file
  ASSERT_FALSE(fs::exists(db_path_ + "-wal") && fs::file_size(db_path_ + "-wal") > 0);
  std::uintmax_t size = fs::file_size(db_path_);
  ASSERT_GT(size, 8u * 4096u);
  {
    std::fstream f(db_path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3 * 4096);
    std::string junk(3 * 4096, '\xab');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  Status s = load();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_NE(s.error().message.find(db_path_), std::string::npos) << s.error().message;
}

TEST_F(SchemaTest, DirectoryAsDatabaseIsFatal) {
  db_path_ = dir_;
  Status s = load();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_NE(s.error().message.find(dir_), std::string::npos) << s.error().message;
}

TEST_F(SchemaTest, MissingOrBadSettingsAreFatal) {
  StubRouter stub;
  Status s = stub.load_library(MOD_CONFIG_SQLITE_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_NE(s.error().message.find("database"), std::string::npos);

  s = load({{"busy_timeout_ms", "soon"}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_NE(s.error().message.find("busy_timeout_ms"), std::string::npos);
  EXPECT_FALSE(fs::exists(db_path_)) << "settings are checked before the file is created";
}

TEST_F(SchemaTest, BusyTimeoutChangesAtRuntime) {
  ASSERT_TRUE(load({{"busy_timeout_ms", "60000"}}));
  stub().set_config("busy_timeout_ms", "20");
  Db other(db_path_);
  ASSERT_TRUE(other.exec("BEGIN IMMEDIATE"));
  EXPECT_EQ(save_user(stub(), "x").status, 503) << "waits 20 ms, not a minute";
  ASSERT_TRUE(other.exec("ROLLBACK"));
  stub().set_config("busy_timeout_ms", "-1");
  EXPECT_TRUE(stub().logged("invalid busy_timeout_ms"));
}

TEST(ErrorMapping, UnavailableIs503OthersAre500) {
  for (int rc : {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC,
                 SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_BUSY_SNAPSHOT})
    EXPECT_EQ(sqlite_error(nullptr, rc, "saving").code, 503) << rc;
  for (int rc : {SQLITE_ERROR, SQLITE_CORRUPT, SQLITE_CONSTRAINT, SQLITE_MISUSE, SQLITE_NOMEM, SQLITE_TOOBIG})
    EXPECT_EQ(sqlite_error(nullptr, rc, "saving").code, 500) << rc;
  Error e = sqlite_error(nullptr, SQLITE_FULL, "saving a user");
  EXPECT_EQ(e.message, "database unavailable: disk full (saving a user: database or disk is full)\n");
  EXPECT_EQ(sqlite_error(nullptr, SQLITE_BUSY, "x").message,
            "database locked beyond the busy timeout (x: database is locked)\n");
}

TEST(Utf8, PlainUtf8) {
  EXPECT_TRUE(plain_utf8(""));
  EXPECT_TRUE(plain_utf8("abc"));
  EXPECT_TRUE(plain_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac"));
  EXPECT_FALSE(plain_utf8(std::string("a\0b", 3)));
  EXPECT_FALSE(plain_utf8("\xff"));
  EXPECT_FALSE(plain_utf8("\xc3"));              // truncated
  EXPECT_FALSE(plain_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(plain_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(plain_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(plain_utf8("\xe2\x28\xa1"));      // bad continuation
}

TEST(SettingsTest, Parse) {
  auto lookup = [](std::map<std::string, std::string> m) {
    return [m](std::string_view k) -> std::optional<std::string> {
      auto it = m.find(std::string(k));
      if (it == m.end()) return std::nullopt;
      return it->second;
    };
  };
  Result<Settings> s = parse_settings(lookup({{"database", "/x/portal.db"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->database, "/x/portal.db");
  EXPECT_EQ(s->busy_timeout, std::chrono::milliseconds(5000));
  s = parse_settings(lookup({{"database", "/x"}, {"busy_timeout_ms", "0"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->busy_timeout, std::chrono::milliseconds(0));
  EXPECT_FALSE(parse_settings(lookup({{"database", ""}})));
  EXPECT_FALSE(parse_settings(lookup({{"database", "/x"}, {"busy_timeout_ms", "600001"}})));
  EXPECT_FALSE(parse_settings(lookup({{"database", "/x"}, {"busy_timeout_ms", "12ms"}})));
  EXPECT_FALSE(parse_settings(lookup({{"database", std::string("/x\0y", 4)}})));
  EXPECT_FALSE(parse_settings(lookup({{"database", ":memory:"}})));
  EXPECT_FALSE(parse_settings(lookup({{"database", "data/portal.db"}})));
}

TEST_F(SchemaTest, ClosedDatabaseAnswers503) {
  Result<std::unique_ptr<Database>> db = Database::open(db_path_, std::chrono::milliseconds(100));
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_NE((*db)->status_text().find("Status: open\n"), std::string::npos);
  ASSERT_TRUE((*db)->save_user("a", {"h", "", ""}));
  (*db)->close();
  EXPECT_NE((*db)->status_text().find("Status: closed\n"), std::string::npos);
  Status s = (*db)->save_user("b", {"h", "", ""});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, 503);
  EXPECT_EQ((*db)->list_users().error().code, 503);
  EXPECT_EQ((*db)->load_user("a").error().code, 503);
  EXPECT_EQ((*db)->list_configs("").error().code, 503);
}

}  // namespace
}  // namespace portal::config_sqlite::test

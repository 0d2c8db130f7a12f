// The storage paths of docs/PROTOCOL.md §10 on the stub router: CRUD, lists, 404s, labels,
// status, bad input and hostile values.
#include <regex>
#include <thread>

#include "fixture.h"

namespace portal::config_sqlite::test {
namespace {

class StorageTest : public ModuleTest {
 protected:
  void SetUp() override {
    ModuleTest::SetUp();
    Status s = load();
    ASSERT_TRUE(s) << s.error().message;
  }
};

TEST_F(StorageTest, UsersCrud) {
  EXPECT_TRUE(values(call(stub(), Method::get, "/storage/users"), "name").empty());
  ASSERT_EQ(save_user(stub(), "bob", "$kdf$1", "k1", "users").status, 200);
  ASSERT_EQ(save_user(stub(), "alice", "$kdf$2", "", "admin,users").status, 200);

  Response r = call(stub(), Method::get, "/storage/user", {{"name", "alice"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(value(r, "password_hash"), "$kdf$2");
  EXPECT_EQ(value(r, "api_key"), "");
  EXPECT_EQ(value(r, "groups"), "admin,users");

  // Insert or replace.
  ASSERT_EQ(save_user(stub(), "alice", "$kdf$3", "k2", "users").status, 200);
  r = call(stub(), Method::get, "/storage/user", {{"name", "alice"}});
  EXPECT_EQ(value(r, "password_hash"), "$kdf$3");
  EXPECT_EQ(value(r, "api_key"), "k2");
  EXPECT_EQ(value(r, "groups"), "users");

  EXPECT_EQ(values(call(stub(), Method::get, "/storage/users"), "name"), (std::vector<std::string>{"alice", "bob"}));

  EXPECT_EQ(call(stub(), Method::call, "/storage/user", {{"action", "delete"}, {"name", "alice"}}).status, 200);
  EXPECT_EQ(call(stub(), Method::get, "/storage/user", {{"name", "alice"}}).status, 404);
  EXPECT_EQ(call(stub(), Method::call, "/storage/user", {{"action", "delete"}, {"name", "alice"}}).status, 200)
      << "deleting a missing user is 200";
  EXPECT_EQ(call(stub(), Method::get, "/storage/user", {{"name", "nobody"}}).status, 404);
  EXPECT_EQ(values(call(stub(), Method::get, "/storage/users"), "name"), (std::vector<std::string>{"bob"}));
}

TEST_F(StorageTest, UpdateRefreshesUpdatedAt) {
  ASSERT_EQ(save_user(stub(), "carol").status, 200);
  Db db(db_path_);
  db.exec("UPDATE users SET updated_at = '2000-01-01 00:00:00', created_at = '2000-01-01 00:00:00'");
  ASSERT_EQ(save_user(stub(), "carol", "new").status, 200);
  EXPECT_NE(db.scalar("SELECT updated_at FROM users WHERE username = 'carol'"), "2000-01-01 00:00:00");
  EXPECT_EQ(db.scalar("SELECT created_at FROM users WHERE username = 'carol'"), "2000-01-01 00:00:00");
}

TEST_F(StorageTest, GroupsCrud) {
  EXPECT_TRUE(values(call(stub(), Method::get, "/storage/groups"), "name").empty());
  auto save = [&](const std::string& name, const std::string& desc, const std::string& by) {
    return call(stub(), Method::set, "/storage/group", {{"name", name}, {"description", desc}, {"created_by", by}});
  };
  ASSERT_EQ(save("ops", "Operators", "root").status, 200);
  ASSERT_EQ(save("admin", "Administrators", "portal --create").status, 200);
  Response r = call(stub(), Method::get, "/storage/group", {{"name", "admin"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(value(r, "description"), "Administrators");
  EXPECT_EQ(value(r, "created_by"), "portal --create");
  ASSERT_EQ(save("admin", "Admins", "alice").status, 200);
  r = call(stub(), Method::get, "/storage/group", {{"name", "admin"}});
  EXPECT_EQ(value(r, "description"), "Admins");
  EXPECT_EQ(value(r, "created_by"), "alice");
  EXPECT_EQ(values(call(stub(), Method::get, "/storage/groups"), "name"), (std::vector<std::string>{"admin", "ops"}));
  EXPECT_EQ(call(stub(), Method::call, "/storage/group", {{"action", "delete"}, {"name", "ops"}}).status, 200);
  EXPECT_EQ(call(stub(), Method::call, "/storage/group", {{"action", "delete"}, {"name", "ops"}}).status, 200);
  EXPECT_EQ(call(stub(), Method::get, "/storage/group", {{"name", "ops"}}).status, 404);
  EXPECT_EQ(values(call(stub(), Method::get, "/storage/groups"), "name"), (std::vector<std::string>{"admin"}));
}

TEST_F(StorageTest, ConfigsCrud) {
  auto set = [&](const std::string& m, const std::string& k, const std::string& v) {
    return call(stub(), Method::set, "/storage/config", {{"module", m}, {"key", k}, {"value", v}}).status;
  };
  ASSERT_EQ(set("web", "port", "8080"), 200);
  ASSERT_EQ(set("web", "host", "0.0.0.0"), 200);
  ASSERT_EQ(set("cli", "socket", "/run/p.sock"), 200);
  ASSERT_EQ(set("web", "port", "9090"), 200);

  Response r = call(stub(), Method::get, "/storage/config", {{"module", "web"}, {"key", "port"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "9090");
  EXPECT_EQ(call(stub(), Method::get, "/storage/config", {{"module", "web"}, {"key", "nope"}}).status, 404);
  EXPECT_EQ(call(stub(), Method::get, "/storage/config", {{"module", "nope"}, {"key", "port"}}).status, 404);

  r = call(stub(), Method::get, "/storage/configs", {{"module", "web"}});
  ASSERT_EQ(r.status, 200);
  Headers expected = {{"module", "web"}, {"key", "host"}, {"value", "0.0.0.0"},
                      {"module", "web"}, {"key", "port"}, {"value", "9090"}};
  ASSERT_EQ(r.headers.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(r.headers[i].key, expected[i].key) << i;
    EXPECT_EQ(r.headers[i].value, expected[i].value) << i;
  }
  for (const Headers& all : {Headers{}, Headers{{"module", ""}}}) {
    r = call(stub(), Method::get, "/storage/configs", all);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(values(r, "module"), (std::vector<std::string>{"cli", "web", "web"}));
    EXPECT_EQ(values(r, "key"), (std::vector<std::string>{"socket", "host", "port"}));
    EXPECT_EQ(values(r, "value"), (std::vector<std::string>{"/run/p.sock", "0.0.0.0", "9090"}));
  }
  EXPECT_TRUE(call(stub(), Method::get, "/storage/configs", {{"module", "nope"}}).headers.empty());

  // Stored as mod_<module> (COMPAT.md 1.9).
  Db db(db_path_);
  EXPECT_EQ(db.column("SELECT DISTINCT module FROM module_configs ORDER BY module"),
            (std::vector<std::string>{"mod_cli", "mod_web"}));
}

TEST_F(StorageTest, StoragePathsCarryTheStorageLabel) {
  std::vector<PathSpec> paths = stub().paths();
  std::vector<std::string> names;
  for (const PathSpec& p : paths) {
    names.push_back(p.path);
    if (p.path == "/config_sqlite/resources/status")
      EXPECT_TRUE(p.labels.empty());
    else
      EXPECT_EQ(p.labels, std::vector<std::string>{"sys.storage"}) << p.path;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"/config_sqlite/resources/status", "/config_sqlite/storage/config",
                                             "/config_sqlite/storage/configs", "/config_sqlite/storage/group",
                                             "/config_sqlite/storage/groups", "/config_sqlite/storage/user",
                                             "/config_sqlite/storage/users"}));
}

TEST_F(StorageTest, StatusText) {
  Response r = call(stub(), Method::get, "/resources/status");
  ASSERT_EQ(r.status, 200);
  std::regex re("SQLite Storage Backend\nFile: " + db_path_ + "\nSize: [0-9]+KB\nStatus: open\n");
  EXPECT_TRUE(std::regex_match(r.body, re)) << r.body;
}

TEST_F(StorageTest, MissingHeadersAndWrongMethods) {
  EXPECT_EQ(call(stub(), Method::get, "/storage/user").status, 400);
  Response r = call(stub(), Method::set, "/storage/user", {{"name", "a"}, {"password_hash", "x"}, {"groups", ""}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "missing header 'api_key'\n");
  EXPECT_EQ(call(stub(), Method::set, "/storage/group", {{"name", "g"}, {"description", ""}}).status, 400);
  EXPECT_EQ(call(stub(), Method::get, "/storage/config", {{"module", "web"}}).status, 400);
  EXPECT_EQ(call(stub(), Method::set, "/storage/config", {{"module", "web"}, {"key", "k"}}).status, 400);
  EXPECT_EQ(call(stub(), Method::call, "/storage/user", {{"name", "a"}}).status, 400) << "no action";
  EXPECT_EQ(call(stub(), Method::call, "/storage/user", {{"action", "drop"}, {"name", "a"}}).status, 400);
  EXPECT_EQ(call(stub(), Method::call, "/storage/group", {{"action", "delete"}}).status, 400);
  EXPECT_EQ(call(stub(), Method::set, "/storage/users").status, 400);
  EXPECT_EQ(call(stub(), Method::call, "/storage/config", {{"module", "web"}, {"key", "k"}}).status, 400);
  EXPECT_EQ(call(stub(), Method::meta, "/storage/configs").status, 400);
  EXPECT_EQ(call(stub(), Method::get, "/storage/nothing").status, 404);
}

const std::vector<std::string>& hostile_names() {
  static const std::vector<std::string> names = {
      "",
      ".hidden",
      "..",
      "a/b",
      "a b",
      "x'; DROP TABLE users; --",
      "' OR 1=1 --",
      "a\"b",
      "semi;colon",
      "dash--dash--",  // valid characters: accepted, see below
      std::string("nul\0byte", 8),
      "\xff\xfe",
      "caf\xc3\xa9",
      std::string(65, 'a'),
  };
  return names;
}

TEST_F(StorageTest, InvalidNamesAreRefused) {
  for (const std::string& n : hostile_names()) {
    int expected = n == "dash--dash--" ? 200 : 400;
    SCOPED_TRACE(::testing::PrintToString(n));
    EXPECT_EQ(save_user(stub(), n).status, expected);
    EXPECT_EQ(call(stub(), Method::get, "/storage/user", {{"name", n}}).status, expected == 200 ? 200 : 400);
    EXPECT_EQ(call(stub(), Method::call, "/storage/user", {{"action", "delete"}, {"name", n}}).status, expected);
    EXPECT_EQ(
        call(stub(), Method::set, "/storage/group", {{"name", n}, {"description", ""}, {"created_by", ""}}).status,
        expected);
    EXPECT_EQ(call(stub(), Method::set, "/storage/config", {{"module", n}, {"key", "k"}, {"value", ""}}).status,
              expected);
    EXPECT_EQ(call(stub(), Method::set, "/storage/config", {{"module", "m"}, {"key", n}, {"value", ""}}).status,
              n.size() == 65 ? 200 : expected)
        << "keys may be up to 128 bytes";
    if (!n.empty() && expected == 400) {
      EXPECT_EQ(call(stub(), Method::get, "/storage/configs", {{"module", n}}).status, 400);
    }
  }
  EXPECT_EQ(save_user(stub(), std::string(64, 'a')).status, 200);
  EXPECT_EQ(
      call(stub(), Method::set, "/storage/config", {{"module", "m"}, {"key", std::string(128, 'k')}, {"value", ""}})
          .status,
      200);
  EXPECT_EQ(
      call(stub(), Method::set, "/storage/config", {{"module", "m"}, {"key", std::string(129, 'k')}, {"value", ""}})
          .status,
      400);
  // Nothing was dropped or altered by the hostile names.
  Db db(db_path_);
  // "dash--dash--" was saved and deleted again; the 64-byte name remains.
  EXPECT_EQ(db.column("SELECT username FROM users"), std::vector<std::string>{std::string(64, 'a')});
  EXPECT_EQ(db.column("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
            (std::vector<std::string>{"groups", "module_configs", "schema_version", "users"}));
}

const std::vector<std::string>& hostile_values() {
  static const std::vector<std::string> values = {
      "",
      "'",
      "\"quoted\"",
      "a;b",
      "-- comment",
      "' OR 1=1 --",
      "x'); DROP TABLE users; --",
      std::string("nul\0in\0the middle\0", 19),
      std::string(1, '\0'),
      "\xff\xfe\x80 not utf-8 \xc3",
      "caf\xc3\xa9 \xf0\x9f\x98\x80",
      " leading and trailing spaces ",
      "line\nbreak\r\n",
      std::string(100000, 'v') + std::string("\0\xff", 2),
  };
  return values;
}

TEST_F(StorageTest, HostileValuesRoundTripByteExact) {
  int i = 0;
  for (const std::string& v : hostile_values()) {
    SCOPED_TRACE(::testing::PrintToString(v.substr(0, 40)));
    std::string name = "u" + std::to_string(i++);
    ASSERT_EQ(save_user(stub(), name, v, v + "k", "g," + v).status, 200);
    Response r = call(stub(), Method::get, "/storage/user", {{"name", name}});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(value(r, "password_hash"), v);
    EXPECT_EQ(value(r, "api_key"), v + "k");
    EXPECT_EQ(value(r, "groups"), "g," + v);

    ASSERT_EQ(
        call(stub(), Method::set, "/storage/group", {{"name", name}, {"description", v}, {"created_by", v}}).status,
        200);
    r = call(stub(), Method::get, "/storage/group", {{"name", name}});
    EXPECT_EQ(value(r, "description"), v);
    EXPECT_EQ(value(r, "created_by"), v);

    ASSERT_EQ(call(stub(), Method::set, "/storage/config", {{"module", "m"}, {"key", name}, {"value", v}}).status, 200);
    r = call(stub(), Method::get, "/storage/config", {{"module", "m"}, {"key", name}});
    EXPECT_EQ(r.body, v);
  }
  // Also through the list and after reopening the file.
  reload();
  Response r = call(stub(), Method::get, "/storage/configs", {{"module", "m"}});
  std::vector<std::string> keys = values(r, "key");
  std::vector<std::string> vals = values(r, "value");
  ASSERT_EQ(keys.size(), hostile_values().size());
  for (std::size_t k = 0; k < keys.size(); ++k) {
    std::size_t idx = std::stoul(keys[k].substr(1));
    EXPECT_EQ(vals[k], hostile_values()[idx]) << keys[k];
  }
  EXPECT_EQ(values(call(stub(), Method::get, "/storage/users"), "name").size(), hostile_values().size());
}

TEST_F(StorageTest, PlainValuesAreTextOthersBlobs) {
  ASSERT_EQ(save_user(stub(), "plain", "caf\xc3\xa9").status, 200);
  ASSERT_EQ(save_user(stub(), "binary", std::string("a\0b", 3)).status, 200);
  ASSERT_EQ(save_user(stub(), "latin1", "caf\xe9").status, 200);
  Db db(db_path_);
  EXPECT_EQ(db.scalar("SELECT typeof(password) FROM users WHERE username = 'plain'"), "text");
  EXPECT_EQ(db.scalar("SELECT typeof(password) FROM users WHERE username = 'binary'"), "blob");
  EXPECT_EQ(db.scalar("SELECT typeof(password) FROM users WHERE username = 'latin1'"), "blob");
  EXPECT_EQ(db.scalar("SELECT typeof(username) FROM users WHERE username = 'binary'"), "text");
}

TEST_F(StorageTest, ConcurrentWritersFromSeveralThreads) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string n = "t" + std::to_string(t) + "_" + std::to_string(i);
        if (save_user(stub(), n).status != 200) ++failures;
        if (call(stub(), Method::get, "/storage/user", {{"name", n}}).status != 200) ++failures;
        if (call(stub(), Method::get, "/storage/users").status != 200) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(values(call(stub(), Method::get, "/storage/users"), "name").size(), std::size_t{kThreads * kEach});
}

TEST_F(StorageTest, LockedBeyondBusyTimeoutIs503) {
  Status s = load({{"busy_timeout_ms", "50"}});
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(save_user(stub(), "before").status, 200);
  {
    Db other(db_path_);
    ASSERT_TRUE(other.exec("BEGIN IMMEDIATE"));
    Response r = save_user(stub(), "during");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("locked"), std::string::npos) << r.body;
    // Reads still work while another connection writes (WAL).
    EXPECT_EQ(call(stub(), Method::get, "/storage/user", {{"name", "before"}}).status, 200);
    ASSERT_TRUE(other.exec("ROLLBACK"));
  }
  EXPECT_EQ(save_user(stub(), "after").status, 200);
  EXPECT_EQ(call(stub(), Method::get, "/storage/user", {{"name", "during"}}).status, 404);
}

}  // namespace
}  // namespace portal::config_sqlite::test

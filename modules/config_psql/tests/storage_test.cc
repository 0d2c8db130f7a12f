// The storage contract of docs/PROTOCOL.md §10 on a private PostgreSQL, through the stub
// router: CRUD, listings, labels, status, hostile values.
#include <string>

#include "fixture.h"

namespace portal::config_psql::testing {
namespace {

class Storage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::string why = PgServer::unavailable_reason(); !why.empty()) return;
    server_ = new PgServer;
    std::string error;
    if (!server_->init(error) || !server_->start(error)) {
      setup_error_ = new std::string(error);
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    if (std::string why = PgServer::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
  }

  // Loads the module on a database of its own (created by the module).
  void load(const std::string& database) {
    configure(stub_, *server_, database);
    ASSERT_TRUE(stub_.load_library(MOD_CONFIG_PSQL_PATH));
    ASSERT_NE(status_text().find("Status: connected\n"), std::string::npos) << status_text();
  }

  std::string status_text() { return stub_.request(Method::get, "/config_psql/resources/status").body; }

  Response get(const std::string& what, Headers h = {}) {
    return call(stub_, Method::get, "/config_psql/storage/" + what, std::move(h));
  }
  Response set(const std::string& what, Headers h) {
    return call(stub_, Method::set, "/config_psql/storage/" + what, std::move(h));
  }
  Response remove(const std::string& what, const std::string& name) {
    return call(stub_, Method::call, "/config_psql/storage/" + what, {{"action", "delete"}, {"name", name}});
  }

  static PgServer* server_;
  static std::string* setup_error_;
  StubRouter stub_;
};

PgServer* Storage::server_ = nullptr;
std::string* Storage::setup_error_ = nullptr;

TEST_F(Storage, CreatesTheDatabaseAndTheSchema) {
  DirectConn admin = direct_connect(*server_, "postgres");
  ASSERT_TRUE(admin);
  const char* exists = "SELECT datname FROM pg_database WHERE datname = $1";
  EXPECT_TRUE(direct_query(admin.get(), exists, {"t_create"})->empty());
  load("t_create");
  EXPECT_EQ(direct_query(admin.get(), exists, {"t_create"})->size(), 1u);

  DirectConn db = direct_connect(*server_, "t_create");
  ASSERT_TRUE(db);
  auto version = direct_query(db.get(), "SELECT version::TEXT FROM schema_version");
  ASSERT_TRUE(version);
  ASSERT_EQ(version->size(), 1u);
  EXPECT_EQ((*version)[0][0], "1");
  for (const char* table : {"users", "groups", "module_configs"})
    EXPECT_EQ(direct_query(db.get(), "SELECT 1 FROM pg_tables WHERE tablename = $1", {table})->size(), 1u) << table;

  // A second load on the same database finds it and its schema as they are.
  ASSERT_TRUE(stub_.unload());
  StubRouter again;
  configure(again, *server_, "t_create");
  ASSERT_TRUE(again.load_library(MOD_CONFIG_PSQL_PATH));
  EXPECT_NE(again.request(Method::get, "/config_psql/resources/status").body.find("Status: connected"),
            std::string::npos);
}

TEST_F(Storage, PathsCarryTheStorageLabel) {
  load("t_paths");
  auto paths = stub_.paths();
  ASSERT_EQ(paths.size(), 7u);
  for (const auto& p : paths) {
    if (p.path == "/config_psql/resources/status") {
      EXPECT_TRUE(p.labels.empty());
    } else {
      EXPECT_TRUE(p.path.starts_with("/config_psql/storage/")) << p.path;
      EXPECT_EQ(p.labels, std::vector<std::string>{"sys.storage"}) << p.path;
    }
  }
  ASSERT_TRUE(stub_.unload());
  EXPECT_TRUE(stub_.leftovers().empty());
}

TEST_F(Storage, StatusNamesTheServerNeverThePassword) {
  stub_.set_config("password", "s3cret-Pa55");  // trust auth: accepted and ignored
  load("t_status");
  EXPECT_EQ(status_text(), "PostgreSQL Storage Backend\nHost: " + server_->socket_dir() + ":5432\n" +
                               "Database: t_status\nStatus: connected\n");
  for (const auto& line : stub_.logs()) EXPECT_EQ(line.text.find("s3cret"), std::string::npos) << line.text;
}

TEST_F(Storage, UsersCrud) {
  load("t_users");
  EXPECT_TRUE(values_of(get("users"), "name").empty());
  EXPECT_EQ(get("user", {{"name", "alice"}}).status, 404);

  EXPECT_EQ(set("user", {{"name", "bob"}, {"password_hash", "h1"}, {"api_key", "k1"}, {"groups", "a,b"}}).status, 200);
  EXPECT_EQ(set("user", {{"name", "alice"}, {"password_hash", "h2"}, {"api_key", ""}, {"groups", ""}}).status, 200);
  EXPECT_EQ(values_of(get("users"), "name"), (std::vector<std::string>{"alice", "bob"}));

  Response bob = get("user", {{"name", "bob"}});
  ASSERT_EQ(bob.status, 200);
  EXPECT_EQ(*bob.header("password_hash"), "h1");
  EXPECT_EQ(*bob.header("api_key"), "k1");
  EXPECT_EQ(*bob.header("groups"), "a,b");

  // SET replaces.
  EXPECT_EQ(set("user", {{"name", "bob"}, {"password_hash", "h3"}, {"api_key", "k3"}, {"groups", "c"}}).status, 200);
  bob = get("user", {{"name", "bob"}});
  EXPECT_EQ(*bob.header("password_hash"), "h3");
  EXPECT_EQ(*bob.header("groups"), "c");

  EXPECT_EQ(remove("user", "bob").status, 200);
  EXPECT_EQ(remove("user", "bob").status, 200);  // already gone: still 200
  EXPECT_EQ(get("user", {{"name", "bob"}}).status, 404);
  EXPECT_EQ(values_of(get("users"), "name"), std::vector<std::string>{"alice"});
}

TEST_F(Storage, GroupsCrud) {
  load("t_groups");
  EXPECT_EQ(get("group", {{"name", "ops"}}).status, 404);
  EXPECT_EQ(set("group", {{"name", "ops"}, {"description", "Operators"}, {"created_by", "root"}}).status, 200);
  EXPECT_EQ(set("group", {{"name", "dev"}, {"description", ""}, {"created_by", "alice"}}).status, 200);
  EXPECT_EQ(values_of(get("groups"), "name"), (std::vector<std::string>{"dev", "ops"}));
  Response ops = get("group", {{"name", "ops"}});
  ASSERT_EQ(ops.status, 200);
  EXPECT_EQ(*ops.header("description"), "Operators");
  EXPECT_EQ(*ops.header("created_by"), "root");
  EXPECT_EQ(set("group", {{"name", "ops"}, {"description", "Ops team"}, {"created_by", "bob"}}).status, 200);
  EXPECT_EQ(*get("group", {{"name", "ops"}}).header("description"), "Ops team");
  EXPECT_EQ(remove("group", "ops").status, 200);
  EXPECT_EQ(remove("group", "nope").status, 200);
  EXPECT_EQ(get("group", {{"name", "ops"}}).status, 404);
  EXPECT_EQ(values_of(get("groups"), "name"), std::vector<std::string>{"dev"});
}

TEST_F(Storage, ConfigsCrudAndListing) {
  load("t_configs");
  EXPECT_EQ(get("config", {{"module", "web"}, {"key", "port"}}).status, 404);
  EXPECT_EQ(set("config", {{"module", "web"}, {"key", "port"}, {"value", "8080"}}).status, 200);
  EXPECT_EQ(set("config", {{"module", "web"}, {"key", "bind"}, {"value", "::1"}}).status, 200);
  EXPECT_EQ(set("config", {{"module", "ctl"}, {"key", "socket"}, {"value", "/run/p.sock"}}).status, 200);
  Response port = get("config", {{"module", "web"}, {"key", "port"}});
  ASSERT_EQ(port.status, 200);
  EXPECT_EQ(port.body, "8080");
  EXPECT_EQ(set("config", {{"module", "web"}, {"key", "port"}, {"value", "9090"}}).status, 200);
  EXPECT_EQ(get("config", {{"module", "web"}, {"key", "port"}}).body, "9090");

  Response web = get("configs", {{"module", "web"}});
  ASSERT_EQ(web.status, 200);
  ASSERT_EQ(web.headers.size(), 6u);
  EXPECT_EQ(values_of(web, "module"), (std::vector<std::string>{"web", "web"}));
  EXPECT_EQ(values_of(web, "key"), (std::vector<std::string>{"bind", "port"}));
  EXPECT_EQ(values_of(web, "value"), (std::vector<std::string>{"::1", "9090"}));
  // Triples in order: module, key, value.
  EXPECT_EQ(web.headers[0].key, "module");
  EXPECT_EQ(web.headers[1].key, "key");
  EXPECT_EQ(web.headers[2].key, "value");

  for (Headers h : {Headers{}, Headers{{"module", ""}}}) {
    Response all = get("configs", h);
    ASSERT_EQ(all.status, 200);
    EXPECT_EQ(values_of(all, "module"), (std::vector<std::string>{"ctl", "web", "web"}));
  }
  EXPECT_TRUE(get("configs", {{"module", "nobody"}}).headers.empty());

  // Stored as mod_<module> (COMPAT.md 1.9).
  DirectConn db = direct_connect(*server_, "t_configs");
  ASSERT_TRUE(db);
  auto rows = direct_query(db.get(), "SELECT module FROM module_configs WHERE key = 'port'");
  ASSERT_TRUE(rows && rows->size() == 1u);
  EXPECT_EQ((*rows)[0][0], "mod_web");
}

TEST_F(Storage, HostileValuesRoundTripByteExact) {
  load("t_hostile");
  const std::vector<std::string> values{
      "it's \"quoted\"",
      "a; DROP TABLE users; --",
      "' OR 1=1 --",
      "'); DELETE FROM module_configs; --",
      std::string("nul\0inside\0", 11),
      std::string("\xff\xfe\x80 not utf-8 \xc3\x28", 17),
      std::string("\0", 1),
      "\\x41 backslashes \\\\ and E'\\n'",
      "",
      std::string(100000, 'x') + std::string("\0end", 4),
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string key = "k" + std::to_string(i);
    ASSERT_EQ(set("config", {{"module", "evil"}, {"key", key}, {"value", values[i]}}).status, 200) << i;
    ASSERT_EQ(set("user", {{"name", key}, {"password_hash", values[i]}, {"api_key", values[i]}, {"groups", values[i]}})
                  .status,
              200);
    ASSERT_EQ(set("group", {{"name", key}, {"description", values[i]}, {"created_by", values[i]}}).status, 200);
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string key = "k" + std::to_string(i);
    EXPECT_EQ(get("config", {{"module", "evil"}, {"key", key}}).body, values[i]) << i;
    Response u = get("user", {{"name", key}});
    EXPECT_EQ(*u.header("password_hash"), values[i]) << i;
    EXPECT_EQ(*u.header("api_key"), values[i]) << i;
    EXPECT_EQ(*u.header("groups"), values[i]) << i;
    Response g = get("group", {{"name", key}});
    EXPECT_EQ(*g.header("description"), values[i]) << i;
    EXPECT_EQ(*g.header("created_by"), values[i]) << i;
  }
  EXPECT_EQ(values_of(get("configs", {{"module", "evil"}}), "value").size(), values.size());
  EXPECT_EQ(values_of(get("users"), "name").size(), values.size());

  // And in the database as the same bytes (bytea).
  DirectConn db = direct_connect(*server_, "t_hostile");
  ASSERT_TRUE(db);
  auto row = direct_query(db.get(), "SELECT value FROM module_configs WHERE module = 'mod_evil' AND key = 'k4'");
  ASSERT_TRUE(row && row->size() == 1u);
  EXPECT_EQ((*row)[0][0], values[4]);
}

TEST_F(Storage, InvalidNamesAre400) {
  load("t_names");
  const std::vector<std::string> bad{"",      ".hidden", "a/b", "../etc", "x' OR 1=1 --", "a b",
                                     "semi;", std::string("n\0l", 3), "\xff", std::string(65, 'a')};
  for (const auto& name : bad) {
    EXPECT_EQ(get("user", {{"name", name}}).status, 400) << name;
    EXPECT_EQ(set("user", {{"name", name}, {"password_hash", "x"}}).status, 400) << name;
    EXPECT_EQ(remove("user", name).status, 400) << name;
    EXPECT_EQ(set("group", {{"name", name}, {"description", "x"}}).status, 400) << name;
    EXPECT_EQ(set("config", {{"module", name}, {"key", "k"}, {"value", "v"}}).status, 400) << name;
    if (name.size() <= 64) {  // a longer key is fine up to 128
      EXPECT_EQ(set("config", {{"module", "m"}, {"key", name}, {"value", "v"}}).status, 400) << name;
    }
    if (!name.empty()) {
      EXPECT_EQ(get("configs", {{"module", name}}).status, 400) << name;
    }
  }
  // A config key may be up to 128 characters, a name 64.
  EXPECT_EQ(set("config", {{"module", "m"}, {"key", std::string(128, 'k')}, {"value", "v"}}).status, 200);
  EXPECT_EQ(set("config", {{"module", "m"}, {"key", std::string(129, 'k')}, {"value", "v"}}).status, 400);
  EXPECT_EQ(set("user", {{"name", std::string(64, 'u')}}).status, 200);
  // Missing headers, unknown actions and methods.
  EXPECT_EQ(get("user").status, 400);
  EXPECT_EQ(set("config", {{"module", "m"}, {"key", "k"}}).status, 400);
  EXPECT_EQ(call(stub_, Method::call, "/config_psql/storage/user", {{"action", "drop"}, {"name", "a"}}).status, 400);
  EXPECT_EQ(call(stub_, Method::set, "/config_psql/storage/users", {}).status, 400);
  EXPECT_EQ(call(stub_, Method::get, "/config_psql/storage/nothing", {}).status, 404);
  // Nothing was harmed.
  EXPECT_EQ(values_of(get("users"), "name"), std::vector<std::string>{std::string(64, 'u')});
}

TEST_F(Storage, ConcurrentWritersAllLand) {
  load("t_threads");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string key = "t" + std::to_string(t) + "_" + std::to_string(i);
        if (set("config", {{"module", "conc"}, {"key", key}, {"value", key}}).status != 200) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(values_of(get("configs", {{"module", "conc"}}), "key").size(), 100u);
}

TEST_F(Storage, UnknownRoleIsReportedAndRetriedNotFatal) {
  configure(stub_, *server_, "t_role");
  stub_.set_config("user", "nobody_here");
  ASSERT_TRUE(stub_.load_library(MOD_CONFIG_PSQL_PATH));
  std::string status = status_text();
  EXPECT_NE(status.find("Status: disconnected (retrying)\n"), std::string::npos) << status;
  EXPECT_NE(status.find("nobody_here"), std::string::npos) << status;
  Response r = get("users");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.body.starts_with("PostgreSQL unavailable: ")) << r.body;
  EXPECT_GE(stub_.timer_count(), 1u);  // a retry is scheduled
}

// Settings that can never work fail the load with kFatalConfig; no server needed.
TEST(ConfigPsqlSettings, InvalidValuesAreFatal) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"port", "0"},          {"port", "70000"},           {"port", "http"},
      {"database", "a-b"},    {"database", "x\"; DROP"},   {"database", std::string(64, 'd')},
      {"database", ""},       {"connect_timeout_ms", "0"}, {"retry_initial_ms", "-1"},
      {"retry_max_ms", "x"},  {"host", ""},                {"max_queued_writes", "many"},
  };
  for (const auto& [key, value] : bad) {
    StubRouter stub;
    stub.set_config("host", "/nonexistent");
    stub.set_config(key, value);
    Status s = stub.load_library(MOD_CONFIG_PSQL_PATH);
    ASSERT_FALSE(s) << key << "=" << value;
    EXPECT_EQ(s.error().code, kFatalConfig) << key;
    EXPECT_NE(s.error().message.find(key), std::string::npos) << s.error().message;
  }
  StubRouter stub;
  stub.set_config("retry_initial_ms", "5000");
  stub.set_config("retry_max_ms", "1000");
  Status s = stub.load_library(MOD_CONFIG_PSQL_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);

  StubRouter secret;
  secret.set_config("password", std::string("zq9\0x", 5));
  Status p = secret.load_library(MOD_CONFIG_PSQL_PATH);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message.find("zq9"), std::string::npos) << p.error().message;
}

}  // namespace
}  // namespace portal::config_psql::testing

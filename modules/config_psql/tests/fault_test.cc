// The server goes away and comes back: the module must never lose a write it
// acknowledged, must answer 503 meanwhile, and must recover by itself.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "fixture.h"

namespace portal::config_psql::testing {
namespace {

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = PgServer::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    std::string error;
    ASSERT_TRUE(server_.init(error)) << error;
  }

  std::string status_text() { return stub_.request(Method::get, "/config_psql/resources/status").body; }

  Response set_config(const std::string& key, const std::string& value) {
    return call(stub_, Method::set, "/config_psql/storage/config", {{"module", "fault"}, {"key", key}, {"value", value}});
  }

  PgServer server_;
  StubRouter stub_;
};

TEST_F(Faults, LoadsWhileTheServerIsDownAndConnectsWhenItComes) {
  configure(stub_, server_, "t_late");
  ASSERT_TRUE(stub_.load_library(MOD_CONFIG_PSQL_PATH));  // not a load failure
  EXPECT_NE(status_text().find("Status: disconnected (retrying)\n"), std::string::npos) << status_text();

  Response read = call(stub_, Method::get, "/config_psql/storage/users");
  EXPECT_EQ(read.status, 503);
  EXPECT_TRUE(read.body.starts_with("PostgreSQL unavailable: ")) << read.body;
  EXPECT_EQ(set_config("a", "1").status, 503);
  EXPECT_EQ(call(stub_, Method::get, "/config_psql/storage/config", {{"module", "fault"}, {"key", "a"}}).status, 503);

  // Time passes: the retries fail quietly and back off, never give up.
  stub_.advance(std::chrono::milliseconds(2000));
  EXPECT_EQ(stub_.timer_count(), 1u);
  EXPECT_EQ(set_config("a", "1").status, 503);

  std::string error;
  ASSERT_TRUE(server_.start(error)) << error;
  ASSERT_TRUE(advance_until(stub_, [&] { return status_text().find("Status: connected\n") != std::string::npos; }))
      << status_text();
  EXPECT_EQ(set_config("a", "1").status, 200);
  EXPECT_EQ(call(stub_, Method::get, "/config_psql/storage/config", {{"module", "fault"}, {"key", "a"}}).body, "1");
  EXPECT_EQ(stub_.timer_count(), 0u);  // no retry timer while connected
}

// A stream of writes from another thread while the server stops and starts again.
TEST_F(Faults, RestartDuringAStreamOfWritesLosesNoAcknowledgedWrite) {
  std::string error;
  ASSERT_TRUE(server_.start(error)) << error;
  configure(stub_, server_, "t_restart");
  ASSERT_TRUE(stub_.load_library(MOD_CONFIG_PSQL_PATH));
  ASSERT_NE(status_text().find("Status: connected\n"), std::string::npos) << status_text();

  struct Write {
    std::string key, value;
    int status;
    bool during_outage;  // started after the server was down and ended before it was started
  };
  std::mutex mu;
  std::vector<Write> writes;
  std::atomic<bool> down{false}, done{false};
  std::atomic<int> count{0}, ok_after_restart{0};
  std::atomic<bool> restarted{false};

  std::thread writer([&] {
    for (int i = 0; !done; ++i) {
      bool down_before = down;
      std::string key = "w" + std::to_string(i);
      std::string value = std::string("v\0", 2) + std::to_string(i) + "\xff";
      int st = set_config(key, value).status;
      bool down_after = down;
      if (restarted && st == 200) ++ok_after_restart;
      {
        std::lock_guard lock(mu);
        writes.push_back({key, value, st, down_before && down_after});
      }
      ++count;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  auto wait_count = [&](int n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (count < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return count >= n;
  };

  EXPECT_TRUE(wait_count(30));
  server_.stop();
  down = true;
  EXPECT_TRUE(wait_count(count + 30));
  stub_.advance(std::chrono::milliseconds(1000));  // retries while the server is down: they fail
  down = false;
  ASSERT_TRUE(server_.start(error)) << error;
  restarted = true;
  EXPECT_TRUE(advance_until(stub_, [&] { return ok_after_restart >= 30; })) << status_text();
  done = true;
  writer.join();

  int ok = 0, unavailable = 0, during = 0;
  DirectConn db = direct_connect(server_, "t_restart");
  ASSERT_TRUE(db);
  for (const Write& w : writes) {
    if (w.during_outage) {
      ++during;
      EXPECT_EQ(w.status, 503) << w.key;
    }
    if (w.status == 503) ++unavailable;
    if (w.status != 200) continue;
    ++ok;
    auto rows = direct_query(db.get(), "SELECT value FROM module_configs WHERE module = 'mod_fault' AND key = $1",
                             {w.key});
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u) << "acknowledged write " << w.key << " is missing";
    EXPECT_EQ((*rows)[0][0], w.value) << w.key;
  }
  EXPECT_GE(during, 30);
  EXPECT_GE(ok, 60);
  EXPECT_EQ(ok + unavailable, static_cast<int>(writes.size()));  // nothing but 200 or 503
  EXPECT_NE(status_text().find("Status: connected\n"), std::string::npos);
  EXPECT_TRUE(stub_.logged("lost the PostgreSQL connection"));
}

// The connection breaks while idle: the first request notices (503), the next ones work
// once the module has reconnected by itself.
TEST_F(Faults, IdleConnectionBrokenByARestartRecovers) {
  std::string error;
  ASSERT_TRUE(server_.start(error)) << error;
  configure(stub_, server_, "t_idle");
  ASSERT_TRUE(stub_.load_library(MOD_CONFIG_PSQL_PATH));
  EXPECT_EQ(set_config("before", "1").status, 200);
  server_.stop();
  ASSERT_TRUE(server_.start(error)) << error;
  Response first = set_config("during", "2");
  EXPECT_EQ(first.status, 503) << first.body;
  EXPECT_NE(status_text().find("Status: disconnected (retrying)"), std::string::npos);
  ASSERT_TRUE(advance_until(stub_, [&] { return status_text().find("Status: connected\n") != std::string::npos; }));
  EXPECT_EQ(set_config("after", "3").status, 200);
  EXPECT_EQ(call(stub_, Method::get, "/config_psql/storage/config", {{"module", "fault"}, {"key", "before"}}).body, "1");
  EXPECT_EQ(call(stub_, Method::get, "/config_psql/storage/config", {{"module", "fault"}, {"key", "during"}}).status,
            404);
}

}  // namespace
}  // namespace portal::config_psql::testing

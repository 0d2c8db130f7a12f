#include "router/store/storage_fanout.h"

#include <gtest/gtest.h>

#include <map>

#include "temp_dir.h"

namespace portal::store {
namespace {

// A provider in memory that can be told to fail, and counts what it is asked.
class MemoryProvider : public StorageProvider {
 public:
  explicit MemoryProvider(std::string name) : name_(std::move(name)) {}

  bool failing = false;
  int reads = 0;
  std::map<std::string, UserRecord> users;
  std::map<std::string, GroupRecord> groups;
  std::map<std::pair<std::string, std::string>, std::string> config;
  std::vector<std::string> writes;  // "save_user alice", ... in order received

  std::string name() const override { return name_; }

  Result<std::vector<std::string>> list_users() override {
    if (auto e = read_gate(); !e.ok()) return e.error();
    std::vector<std::string> out;
    for (const auto& [n, _] : users) out.push_back(n);
    return out;
  }
  Result<UserRecord> load_user(const std::string& n) override {
    if (auto e = read_gate(); !e.ok()) return e.error();
    auto it = users.find(n);
    if (it == users.end()) return make_error(404, "no user " + n);
    return it->second;
  }
  Status save_user(const UserRecord& u) override { return write("save_user " + u.name, [&] { users[u.name] = u; }); }
  Status delete_user(const std::string& n) override { return write("delete_user " + n, [&] { users.erase(n); }); }
  Result<std::vector<std::string>> list_groups() override {
    if (auto e = read_gate(); !e.ok()) return e.error();
    std::vector<std::string> out;
    for (const auto& [n, _] : groups) out.push_back(n);
    return out;
  }
  Result<GroupRecord> load_group(const std::string& n) override {
    if (auto e = read_gate(); !e.ok()) return e.error();
    auto it = groups.find(n);
    if (it == groups.end()) return make_error(404, "no group " + n);
    return it->second;
  }
  Status save_group(const GroupRecord& g) override {
    return write("save_group " + g.name, [&] { groups[g.name] = g; });
  }
  Status delete_group(const std::string& n) override { return write("delete_group " + n, [&] { groups.erase(n); }); }
  Result<std::string> get_config(const std::string& m, const std::string& k) override {
    if (auto e = read_gate(); !e.ok()) return e.error();
    auto it = config.find({m, k});
    if (it == config.end()) return make_error(404, "no key");
    return it->second;
  }
  Status set_config(const ConfigEntry& e) override {
    return write("set_config " + e.module + "." + e.key, [&] { config[{e.module, e.key}] = e.value; });
  }
  Result<std::vector<ConfigEntry>> list_config(const std::string& m) override {
    if (auto e = read_gate(); !e.ok()) return e.error();
    std::vector<ConfigEntry> out;
    for (const auto& [k, v] : config)
      if (m.empty() || k.first == m) out.push_back({k.first, k.second, v});
    return out;
  }
  std::string status() override { return "Memory\n"; }

 private:
  Status read_gate() {
    ++reads;
    if (failing) return make_error(503, name_ + " down");
    return {};
  }
  template <class F>
  Status write(std::string what, F apply) {
    if (failing) return make_error(503, name_ + " down");
    writes.push_back(std::move(what));
    apply();
    return {};
  }

  std::string name_;
};

class FanoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = FileStore::open(dir_.path());
    ASSERT_TRUE(s.ok()) << s.error().message;
    files_.emplace(std::move(*s));
    fanout_.emplace(*files_);
    ASSERT_TRUE(fanout_->add_provider(a_).ok());
    ASSERT_TRUE(fanout_->add_provider(b_).ok());
  }

  testing::TempDir dir_;
  std::optional<FileStore> files_;
  std::optional<StorageFanout> fanout_;
  std::shared_ptr<MemoryProvider> a_ = std::make_shared<MemoryProvider>("a");
  std::shared_ptr<MemoryProvider> b_ = std::make_shared<MemoryProvider>("b");
};

TEST_F(FanoutTest, EveryWriteReachesFileStoreAndEveryProvider) {
  UserRecord u{"alice", "h", "k", {"admin"}};
  auto r = fanout_->save_user(u);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.providers.empty());
  EXPECT_EQ(*files_->load_user("alice"), u);
  EXPECT_EQ(a_->users.at("alice"), u);
  EXPECT_EQ(b_->users.at("alice"), u);
  ASSERT_TRUE(fanout_->save_group({"admin", "Administrators", "test"}).ok());
  ASSERT_TRUE(fanout_->set_config({"web", "port", "8080"}).ok());
  ASSERT_TRUE(fanout_->delete_user("alice").ok());
  EXPECT_EQ(b_->writes,
            (std::vector<std::string>{"save_user alice", "save_group admin", "set_config web.port", "delete_user alice"}));
  EXPECT_TRUE(b_->users.empty());
  EXPECT_EQ(*files_->get_config("web", "port"), "8080");
  EXPECT_EQ(files_->load_user("alice").error().code, 404);
  EXPECT_EQ(fanout_->add_provider(std::make_shared<MemoryProvider>("a")).error().code, 409);
}

TEST_F(FanoutTest, FileStoreFailureWritesNothing) {
  auto r = fanout_->save_user({"../x", "", "", {}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.file.error().code, 400);
  EXPECT_TRUE(a_->writes.empty());
  EXPECT_TRUE(b_->writes.empty());
}

TEST_F(FanoutTest, FailingProviderReportedOthersContinueThenReplay) {
  a_->failing = true;
  auto r = fanout_->save_user({"bob", "h1", "", {}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.providers.size(), 1u);
  EXPECT_EQ(r.providers[0].provider, "a");
  EXPECT_EQ(r.providers[0].error.code, 503);
  EXPECT_EQ(b_->users.at("bob").password_hash, "h1");
  ASSERT_TRUE(fanout_->save_user({"bob", "h2", "", {}}).ok());
  ASSERT_TRUE(fanout_->delete_group("old").ok());
  EXPECT_EQ(fanout_->pending("a"), 3u);
  EXPECT_EQ(fanout_->pending("b"), 0u);
  EXPECT_NE(fanout_->status().find("[a] (pending: 3)"), std::string::npos);

  EXPECT_FALSE(fanout_->sync("a").ok());  // still down: nothing lost
  EXPECT_EQ(fanout_->pending("a"), 3u);
  a_->failing = false;
  ASSERT_TRUE(fanout_->sync("a").ok());
  EXPECT_EQ(fanout_->pending("a"), 0u);
  EXPECT_EQ(a_->writes, (std::vector<std::string>{"save_user bob", "save_user bob", "delete_group old"}));
  EXPECT_EQ(a_->users.at("bob").password_hash, "h2");  // replayed in order
  EXPECT_EQ(fanout_->sync("nope").error().code, 404);
}

TEST_F(FanoutTest, NextWriteReplaysPendingFirst) {
  a_->failing = true;
  ASSERT_TRUE(fanout_->set_config({"web", "port", "1"}).ok());
  a_->failing = false;
  ASSERT_TRUE(fanout_->set_config({"web", "port", "2"}).ok());
  EXPECT_EQ(a_->writes, (std::vector<std::string>{"set_config web.port", "set_config web.port"}));
  EXPECT_EQ(a_->config.at({"web", "port"}), "2");
  EXPECT_EQ(fanout_->pending("a"), 0u);
}

TEST_F(FanoutTest, ReadsGoToProvidersInOrderThenFileStore) {
  ASSERT_TRUE(fanout_->save_user({"carol", "file", "", {}}).ok());
  a_->users["carol"].password_hash = "from-a";
  b_->users["carol"].password_hash = "from-b";
  EXPECT_EQ(fanout_->load_user("carol")->password_hash, "from-a");
  EXPECT_EQ(b_->reads, 0);
  a_->failing = true;
  EXPECT_EQ(fanout_->load_user("carol")->password_hash, "from-b");
  b_->users.erase("carol");  // b answers 404: not a success, fall through
  EXPECT_EQ(fanout_->load_user("carol")->password_hash, "file");
  EXPECT_EQ(fanout_->load_user("nobody").error().code, 404);
}

TEST_F(FanoutTest, ProviderWithPendingWritesIsNotReadFrom) {
  a_->failing = true;
  ASSERT_TRUE(fanout_->save_user({"dan", "new", "", {}}).ok());
  a_->failing = false;  // recovered but not yet synced: its copy is stale
  a_->users["dan"] = {"dan", "stale", "", {}};
  EXPECT_EQ(fanout_->load_user("dan")->password_hash, "new");
  EXPECT_EQ(a_->reads, 0);
}

TEST_F(FanoutTest, FullSyncPushesFileStoreState) {
  ASSERT_TRUE(fanout_->save_user({"erin", "h", "", {}}).ok());
  ASSERT_TRUE(fanout_->save_group({"ops", "d", "c"}).ok());
  ASSERT_TRUE(fanout_->set_config({"web", "port", "80"}).ok());
  auto late = std::make_shared<MemoryProvider>("late");
  late->users["ghost"] = {"ghost", "", "", {}};
  ASSERT_TRUE(fanout_->add_provider(late).ok());
  ASSERT_TRUE(fanout_->sync("late", true).ok());
  EXPECT_EQ(late->users.size(), 1u);
  EXPECT_EQ(late->users.at("erin").password_hash, "h");
  EXPECT_EQ(late->groups.at("ops").description, "d");
  EXPECT_EQ(late->config.at({"web", "port"}), "80");
  EXPECT_TRUE(fanout_->remove_provider("late"));
  EXPECT_EQ(fanout_->provider_names(), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace portal::store

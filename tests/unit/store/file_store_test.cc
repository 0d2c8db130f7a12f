#include "router/store/file_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "router/store/atomic_file.h"
#include "temp_dir.h"

namespace portal::store {
namespace {

using testing::read_text;
using testing::TempDir;
using testing::write_text;

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = FileStore::open(dir_.path() + "/data");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_.emplace(std::move(*s));
  }
  FileStore& store() { return *store_; }

  TempDir dir_;
  std::optional<FileStore> store_;
};

TEST_F(FileStoreTest, CreatesPrivateLayout) {
  for (const char* sub : {"users", "groups", "settings"}) EXPECT_EQ(mode_of(dir_.path() + "/data/" + sub), 0700u);
  EXPECT_EQ(store().user_path("bob"), dir_.path() + "/data/users/bob.conf");
  EXPECT_EQ(store().module_path("web"), dir_.path() + "/data/settings/mod_web.conf");
}

TEST_F(FileStoreTest, UserRoundTripWithHeaderAndMode) {
  UserRecord u{"alice", "$sha256$salt$abcd", "00ff", {"root", "admin"}};
  ASSERT_TRUE(store().save_user(u).ok());
  std::string text = read_text(store().user_path("alice"));
  EXPECT_EQ(text.rfind("# Portal auto-generated config\n", 0), 0u);
  EXPECT_NE(text.find("groups = root,admin\n"), std::string::npos);
  EXPECT_EQ(mode_of(store().user_path("alice")), 0600u);
  auto back = store().load_user("alice");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, u);
}

TEST_F(FileStoreTest, HostileValuesRoundTrip) {
  std::string bytes;
  for (int i = 1; i < 256; ++i) bytes += static_cast<char>(i);
  for (const std::string& v : std::vector<std::string>{std::string("it's \"quoted\"; DROP TABLE users; --"), std::string("a = b\napi_key = evil"),
                        std::string("  padded  "), std::string("\xc3\x28\xff not utf-8"), std::string("x\0y", 3),
                        std::string(20000, 'L'), bytes, std::string("trailing backslash\\")}) {
    UserRecord u{"mallory", v, "key", {}};
    ASSERT_TRUE(store().save_user(u).ok());
    auto back = store().load_user("mallory");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->password_hash, v);
    EXPECT_EQ(back->api_key, "key");  // never overwritten by an injected line
    GroupRecord g{"ops", v, v};
    ASSERT_TRUE(store().save_group(g).ok());
    auto gb = store().load_group("ops");
    ASSERT_TRUE(gb.ok()) << gb.error().message;
    EXPECT_EQ(*gb, g);
  }
}

TEST_F(FileStoreTest, TooLongValueRejectedNotWritten) {
  auto r = store().save_user({"big", std::string(70000, 'x'), "", {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, 400);
  EXPECT_FALSE(std::filesystem::exists(store().user_path("big")));
}

TEST_F(FileStoreTest, InvalidNamesRejectedBeforeTouchingDisk) {
  for (const std::string& n : std::vector<std::string>{"../escape", "a/b", "..", std::string("a\0b", 3), "\xff\xfe", ".hidden", ""}) {
    auto r = store().save_user({n, "pw", "", {}});
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, 400);
    EXPECT_FALSE(store().load_user(n).ok());
    EXPECT_FALSE(store().delete_user(n).ok());
    EXPECT_FALSE(store().save_group({n, "", ""}).ok());
  }
  EXPECT_FALSE(store().save_user({"ok", "pw", "", {"bad,group"}}).ok());
  EXPECT_FALSE(store().set_config({"../x", "k", "v"}).ok());
  EXPECT_FALSE(store().set_config({"web", "a b", "v"}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/escape.conf"));
  EXPECT_TRUE(store().list_users()->empty());
}

TEST_F(FileStoreTest, ModeStays0600AfterRewriteWithPermissiveUmask) {
  mode_t old = ::umask(0);
  ASSERT_TRUE(store().save_user({"root", "one", "", {"root"}}).ok());
  ASSERT_EQ(::chmod(store().user_path("root").c_str(), 0644), 0);  // as if someone loosened it
  ASSERT_TRUE(store().save_user({"root", "two", "", {"root"}}).ok());
  EXPECT_EQ(mode_of(store().user_path("root")), 0600u);
  ASSERT_TRUE(store().set_config({"web", "port", "8080"}).ok());
  EXPECT_EQ(mode_of(store().module_path("web")), 0600u);
  ::umask(0277);  // a umask that would even remove the owner's write bit
  ASSERT_TRUE(store().save_group({"admin", "d", "c"}).ok());
  EXPECT_EQ(mode_of(store().group_path("admin")), 0600u);
  ::umask(old);
}

TEST_F(FileStoreTest, LeftoverTemporaryIgnoredAndCleaned) {
  ASSERT_TRUE(store().save_user({"bob", "pw", "", {}}).ok());
  std::string tmp = store().user_path("bob") + ".tmp.deadbeef";
  write_text(tmp, "password = half-writ");
  auto listed = store().list_users();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{"bob"});
  auto report = store().load_users();
  EXPECT_EQ(report.items.size(), 1u);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_EQ(store().load_user("bob")->password_hash, "pw");
  ASSERT_TRUE(store().save_user({"a.tmp.b", "kept", "", {}}).ok());  // looks like a temporary, is not
  auto reopened = FileStore::open(store().data_dir());
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(std::filesystem::exists(tmp));
  EXPECT_EQ(store().load_user("a.tmp.b")->password_hash, "kept");
  // No temporary remains after normal writes either.
  for (const auto& e : std::filesystem::directory_iterator(store().data_dir() + "/users"))
    EXPECT_FALSE(is_temporary_name(e.path().filename().string())) << e.path();
  EXPECT_TRUE(is_temporary_name("bob.conf.tmp.0123abcd"));
  EXPECT_FALSE(is_temporary_name("a.tmp.b.conf"));
}

TEST_F(FileStoreTest, GarbageFileNamedOthersStillLoad) {
  ASSERT_TRUE(store().save_user({"alice", "a", "", {}}).ok());
  ASSERT_TRUE(store().save_user({"carol", "c", "", {}}).ok());
  write_text(store().user_path("broken"), "password = x\nthis is not ini\n");
  write_text(store().user_path("badesc"), "password = x\\q\n");
  write_text(store().data_dir() + "/users/bad name.conf", "password = y\n");
  auto report = store().load_users();
  ASSERT_EQ(report.items.size(), 2u);
  EXPECT_EQ(report.items[0].name, "alice");
  EXPECT_EQ(report.items[1].name, "carol");
  ASSERT_EQ(report.errors.size(), 3u);
  std::string all;
  for (const auto& e : report.errors) all += e + "\n";
  EXPECT_NE(all.find(store().user_path("broken") + ":2:"), std::string::npos) << all;
  EXPECT_NE(all.find(store().user_path("badesc") + ":1:"), std::string::npos) << all;
  EXPECT_NE(all.find("bad name.conf"), std::string::npos) << all;
}

TEST_F(FileStoreTest, UnknownKeysPreservedOnRewrite) {
  write_text(store().user_path("dave"), "password = old\ntotp_secret = ABC\\x20\ngroups = a\n");
  auto u = store().load_user("dave");
  ASSERT_TRUE(u.ok());
  u->password_hash = "new";
  ASSERT_TRUE(store().save_user(*u).ok());
  std::string text = read_text(store().user_path("dave"));
  EXPECT_NE(text.find("totp_secret = ABC\\x20\n"), std::string::npos) << text;
  EXPECT_EQ(store().load_user("dave")->password_hash, "new");
}

TEST_F(FileStoreTest, DeleteAndList) {
  ASSERT_TRUE(store().save_user({"b", "", "", {}}).ok());
  ASSERT_TRUE(store().save_user({"a", "", "", {}}).ok());
  EXPECT_EQ(*store().list_users(), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(store().delete_user("a").ok());
  ASSERT_TRUE(store().delete_user("a").ok());  // already gone is fine
  EXPECT_EQ(*store().list_users(), std::vector<std::string>{"b"});
  EXPECT_EQ(store().load_user("a").error().code, 404);
  ASSERT_TRUE(store().save_group({"g", "", ""}).ok());
  ASSERT_TRUE(store().delete_group("g").ok());
  EXPECT_TRUE(store().list_groups()->empty());
}

TEST_F(FileStoreTest, ModuleConfigKeepsHandWrittenEntries) {
  write_text(store().module_path("web"), "# hand written\nenabled = true\nport = 8080\n[extra]\nx = 1\n");
  ASSERT_TRUE(store().set_config({"web", "port", " 9090\n"}).ok());
  ASSERT_TRUE(store().set_config({"web", "tls", "on"}).ok());
  EXPECT_EQ(*store().get_config("web", "port"), " 9090\n");
  EXPECT_EQ(*store().get_config("web", "enabled"), "true");
  EXPECT_EQ(store().get_config("web", "missing").error().code, 404);
  auto all = store().list_config("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  std::string text = read_text(store().module_path("web"));
  EXPECT_NE(text.find("[extra]\nx = 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("# Portal auto-generated config\n[mod_web]\n", 0), 0u) << text;
}

}  // namespace
}  // namespace portal::store

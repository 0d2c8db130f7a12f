#include <gtest/gtest.h>

#include "router/access.h"
#include "router/path_table.h"

namespace portal::router {
namespace {

PathEntry entry(std::string path, std::string owner, std::vector<std::string> labels = {}) {
  PathEntry e;
  e.path = std::move(path);
  e.owner = std::move(owner);
  e.labels = std::move(labels);
  return e;
}

TEST(PathTable, ExactBeatsWildcard) {
  PathTable t;
  ASSERT_TRUE(t.add(entry("/a/b/c", "exact")));
  ASSERT_TRUE(t.add(entry("/a/b/*", "wild")));
  EXPECT_EQ(t.route("/a/b/c")->owner, "exact");
  EXPECT_EQ(t.route("/a/b/d")->owner, "wild");
}

TEST(PathTable, WildcardFallbackShortensThePath) {
  PathTable t;
  ASSERT_TRUE(t.add(entry("/*", "root")));
  ASSERT_TRUE(t.add(entry("/a/*", "a")));
  EXPECT_EQ(t.route("/a/b/c")->owner, "a");
  EXPECT_EQ(t.route("/a/x")->owner, "a");
  EXPECT_EQ(t.route("/b/c")->owner, "root");
  EXPECT_EQ(t.route("/")->owner, "root");
}

TEST(PathTable, NeverTriesTheLongerWildcard) {
  PathTable t;
  ASSERT_TRUE(t.add(entry("/a/b/c/*", "deeper")));
  EXPECT_EQ(t.route("/a/b/c"), nullptr);
  EXPECT_EQ(t.route("/a/b/c/d")->owner, "deeper");
}

TEST(PathTable, NoMatchIsNull) {
  PathTable t;
  ASSERT_TRUE(t.add(entry("/hello/resources/greeting", "hello")));
  EXPECT_EQ(t.route("/hello/resources"), nullptr);
  EXPECT_EQ(t.route("/hello/resources/greeting/x"), nullptr);
  EXPECT_EQ(t.route(""), nullptr);
  EXPECT_EQ(t.route("relative"), nullptr);
}

TEST(PathTable, FirstOwnerWinsAndRemovalChecksOwner) {
  PathTable t;
  ASSERT_TRUE(t.add(entry("/p", "one")));
  EXPECT_FALSE(t.add(entry("/p", "two")));
  EXPECT_TRUE(t.add(entry("/p", "one", {"admin"})));  // the owner may update it
  EXPECT_EQ(t.exact("/p")->labels.size(), 1u);
  EXPECT_FALSE(t.remove("/p", "two"));
  EXPECT_TRUE(t.remove("/p", "one"));
  EXPECT_EQ(t.exact("/p"), nullptr);
}

TEST(PathTable, RemoveOwnerTakesAllOfThem) {
  PathTable t;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(t.add(entry("/m/" + std::to_string(i), "m")));
  ASSERT_TRUE(t.add(entry("/other", "o")));
  EXPECT_EQ(t.remove_owner("m"), 100u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(PathTable, SortedIsSorted) {
  PathTable t;
  for (const char* p : {"/z", "/a/b", "/a", "/m/*"}) ASSERT_TRUE(t.add(entry(p, "x")));
  auto s = t.sorted();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0]->path, "/a");
  EXPECT_EQ(s[3]->path, "/z");
}

TEST(PathTable, BinaryPathsAreJustBytes) {
  PathTable t;
  std::string weird = std::string("/bin\0ary/\xff", 11);
  ASSERT_TRUE(t.add(entry(weird, "x")));
  EXPECT_NE(t.exact(weird), nullptr);
  EXPECT_EQ(t.exact("/bin"), nullptr);
}

// COMPAT.md 1.5 truth table of the path gate.
TEST(Access, PathGateTruthTable) {
  PathEntry open = entry("/open", "m");
  PathEntry admin = entry("/admin", "m", {"admin"});
  Caller anon;
  Caller root{"root", {}};
  Caller alice{"alice", {"dev"}};
  Caller bob{"bob", {"admin", "dev"}};
  EXPECT_TRUE(path_allows(anon, open));
  EXPECT_FALSE(path_allows(anon, admin));
  EXPECT_TRUE(path_allows(root, admin));
  EXPECT_FALSE(path_allows(alice, admin));
  EXPECT_TRUE(path_allows(bob, admin));
  EXPECT_TRUE(path_allows(alice, open));
}

TEST(Access, RowFilter) {
  Caller anon;
  Caller root{"root", {}};
  Caller alice{"alice", {"dev"}};
  EXPECT_TRUE(labels_allow(anon, {}));
  EXPECT_FALSE(labels_allow(anon, {"dev"}));
  EXPECT_TRUE(labels_allow(root, {"x"}));
  EXPECT_TRUE(labels_allow(alice, {"dev", "ops"}));
  EXPECT_FALSE(labels_allow(alice, {"ops"}));
  Caller seer{"eve", {"sys.see_all"}};
  EXPECT_TRUE(labels_allow(seer, {"ops"})) << "sys.see_all sees every row";
  Caller labelled_root_only{"mallory", {"root"}};
  EXPECT_FALSE(path_allows(labelled_root_only, entry("/admin", "m", {"admin"}))) << "only the user root passes";
}

// The admin gate: root, or label admin or hub-admin; nobody else.
TEST(Access, AdminGate) {
  EXPECT_TRUE(may_administer(Caller{"root", {}}));
  EXPECT_TRUE(may_administer(Caller{"alice", {"admin"}}));
  EXPECT_TRUE(may_administer(Caller{"hub", {"hub-admin"}}));
  EXPECT_FALSE(may_administer(Caller{"bob", {"staff", "hub-operator"}}));
  EXPECT_FALSE(may_administer(Caller{}));
  EXPECT_FALSE(may_administer(Caller{"", {"admin"}})) << "labels without a user come from nowhere";
}

}  // namespace
}  // namespace portal::router

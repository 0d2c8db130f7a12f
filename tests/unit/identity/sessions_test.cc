#include "router/identity/sessions.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace portal::identity {
namespace {

using std::chrono::seconds;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

TEST(Sessions, CreateResolveLogout) {
  SessionTable table;
  auto token = table.create("alice", kT0);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->size(), 64u);
  EXPECT_EQ(table.resolve(*token, kT0), "alice");
  EXPECT_FALSE(table.resolve("nope", kT0).has_value());
  EXPECT_FALSE(table.resolve(token->substr(1), kT0).has_value());
  EXPECT_TRUE(table.logout(*token));
  EXPECT_FALSE(table.logout(*token));
  EXPECT_FALSE(table.resolve(*token, kT0).has_value());
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.count_for("alice"), 0u);
}

TEST(Sessions, DefaultTtlIsOneHourAbsolute) {
  SessionTable table;
  EXPECT_EQ(table.config().ttl, seconds(3600));
  auto token = table.create("alice", kT0);
  ASSERT_TRUE(token.ok());
  // Use does not extend the session (absolute TTL, as in the original).
  EXPECT_EQ(table.resolve(*token, kT0 + seconds(3000)), "alice");
  EXPECT_EQ(table.resolve(*token, kT0 + seconds(3599)), "alice");
  EXPECT_FALSE(table.resolve(*token, kT0 + seconds(3600)).has_value());
  EXPECT_EQ(table.size(), 0u);  // an expired token found on resolve is removed
}

TEST(Sessions, ConfigurableTtlAndSweep) {
  SessionTable table(SessionConfig{seconds(10), 64});
  auto a = table.create("alice", kT0);
  auto b = table.create("bob", kT0 + seconds(5));
  auto c = table.create("alice", kT0 + seconds(8));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(table.sweep(kT0 + seconds(9)), 0u);
  EXPECT_EQ(table.sweep(kT0 + seconds(10)), 1u);
  EXPECT_FALSE(table.resolve(*a, kT0 + seconds(10)).has_value());
  EXPECT_EQ(table.resolve(*b, kT0 + seconds(10)), "bob");
  EXPECT_EQ(table.count_for("alice"), 1u);
  EXPECT_EQ(table.sweep(kT0 + seconds(100)), 2u);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.count_for("alice"), 0u);
  EXPECT_EQ(table.count_for("bob"), 0u);
}

TEST(Sessions, PerUserCapEvictsOldest) {
  SessionTable table(SessionConfig{seconds(3600), 3});
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    auto t = table.create("alice", kT0 + seconds(i));
    ASSERT_TRUE(t.ok());
    tokens.push_back(*t);
  }
  auto bob = table.create("bob", kT0);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(table.count_for("alice"), 3u);
  EXPECT_EQ(table.size(), 4u);
  EXPECT_FALSE(table.resolve(tokens[0], kT0 + seconds(10)).has_value());
  EXPECT_FALSE(table.resolve(tokens[1], kT0 + seconds(10)).has_value());
  for (int i = 2; i < 5; ++i) EXPECT_EQ(table.resolve(tokens[i], kT0 + seconds(10)), "alice");
  EXPECT_EQ(table.resolve(*bob, kT0 + seconds(10)), "bob");
}

TEST(Sessions, DefaultCapIs64AndNoFixedTableSize) {
  SessionTable table;
  EXPECT_EQ(table.config().max_per_user, 64u);
  for (int u = 0; u < 300; ++u) ASSERT_TRUE(table.create("user" + std::to_string(u), kT0).ok());
  EXPECT_EQ(table.size(), 300u);  // more than the original's 256 slots
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(table.create("user0", kT0).ok());
  EXPECT_EQ(table.count_for("user0"), 64u);
}

TEST(Sessions, LogoutUserEndsAllOfThem) {
  SessionTable table;
  auto a1 = table.create("alice", kT0);
  auto a2 = table.create("alice", kT0);
  auto b = table.create("bob", kT0);
  ASSERT_TRUE(a1.ok() && a2.ok() && b.ok());
  EXPECT_EQ(table.logout_user("alice"), 2u);
  EXPECT_FALSE(table.resolve(*a1, kT0).has_value());
  EXPECT_FALSE(table.resolve(*a2, kT0).has_value());
  EXPECT_EQ(table.resolve(*b, kT0), "bob");
  EXPECT_EQ(table.logout_user("alice"), 0u);
}

TEST(Sessions, TokensAreUnique) {
  SessionTable table;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto t = table.create("u" + std::to_string(i % 7), kT0);
    ASSERT_TRUE(t.ok());
    EXPECT_TRUE(seen.insert(*t).second);
  }
}

}  // namespace
}  // namespace portal::identity

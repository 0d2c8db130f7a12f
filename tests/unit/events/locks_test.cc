#include "router/events/locks.h"

#include <gtest/gtest.h>

namespace portal::events {
namespace {

using std::chrono::seconds;

struct FakeClock {
  LockClock::time_point now{seconds(1000)};
  void advance(seconds s) { now += s; }
};

TEST(Locks, Ownership) {
  LockTable t;
  FakeClock c;
  EXPECT_EQ(t.lock("dev", "a", c.now), LockResult::Ok);
  EXPECT_EQ(t.lock("dev", "b", c.now), LockResult::AlreadyLocked);
  EXPECT_EQ(t.lock("dev", "a", c.now), LockResult::Ok);  // re-lock by owner
  EXPECT_TRUE(t.locked("dev", c.now));
  EXPECT_EQ(t.unlock("dev", "b"), LockResult::NotOwner);
  EXPECT_EQ(t.keepalive("dev", "b", c.now), LockResult::NotOwner);
  EXPECT_EQ(t.unlock("dev", "a"), LockResult::Ok);
  EXPECT_EQ(t.unlock("dev", "a"), LockResult::NotLocked);
  EXPECT_EQ(t.keepalive("dev", "a", c.now), LockResult::NotLocked);
  EXPECT_EQ(t.lock("", "a", c.now), LockResult::Invalid);
  EXPECT_EQ(t.lock(std::string(kMaxLockNameBytes + 1, 'r'), "a", c.now), LockResult::Invalid);
  EXPECT_EQ(t.lock("r", std::string(kMaxLockNameBytes + 1, 'o'), c.now), LockResult::Invalid);
}

TEST(Locks, KeepaliveAndExpiry) {
  LockTable t(seconds(60));
  FakeClock c;
  ASSERT_EQ(t.lock("x", "a", c.now), LockResult::Ok);
  ASSERT_EQ(t.lock("y", "b", c.now), LockResult::Ok);
  c.advance(seconds(50));
  EXPECT_EQ(t.keepalive("x", "a", c.now), LockResult::Ok);
  c.advance(seconds(10));  // y at exactly 60 s: not yet expired (> TTL is required)
  EXPECT_TRUE(t.sweep(c.now).empty());
  c.advance(seconds(1));
  auto gone = t.sweep(c.now);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].resource, "y");
  EXPECT_EQ(gone[0].owner, "b");
  EXPECT_TRUE(t.locked("x", c.now));
  c.advance(seconds(60));  // x's last keepalive was 71 s ago
  EXPECT_FALSE(t.locked("x", c.now));
  // Past TTL but not swept yet: another owner may take it.
  EXPECT_EQ(t.lock("x", "z", c.now), LockResult::Ok);
  EXPECT_EQ(t.find("x")->owner, "z");
  EXPECT_TRUE(t.sweep(c.now).empty());
}

TEST(Locks, ReleaseOwner) {
  LockTable t;
  FakeClock c;
  (void)t.lock("a", "m1", c.now);
  (void)t.lock("b", "m1", c.now);
  (void)t.lock("c", "m2", c.now);
  EXPECT_EQ(t.release_owner("m1"), 2u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(Locks, ListingText) {
  LockTable t;
  FakeClock c;
  EXPECT_EQ(t.listing("", c.now), "Resource locks:\n  (none)\n");
  EXPECT_EQ(t.listing("/dev", c.now), "  (no locks matching '/dev')\n");
  ASSERT_EQ(t.lock("/dev/watchdog", "watchdog", c.now), LockResult::Ok);
  c.advance(seconds(5));
  ASSERT_EQ(t.lock("/dev/ttyS0", "alice@cli:7", c.now), LockResult::Ok);
  c.advance(seconds(3));
  ASSERT_EQ(t.keepalive("/dev/watchdog", "watchdog", c.now), LockResult::Ok);
  c.advance(seconds(2));
  const std::string rows =
      "  /dev/ttyS0                     owner:alice@cli:7          age:5s keepalive:5s ago\n"
      "  /dev/watchdog                  owner:watchdog             age:10s keepalive:2s ago\n";
  EXPECT_EQ(t.listing("", c.now), "Resource locks:\n" + rows);
  EXPECT_EQ(t.listing("/dev/", c.now), rows);
  EXPECT_EQ(t.listing("/dev/w", c.now),
            "  /dev/watchdog                  owner:watchdog             age:10s keepalive:2s ago\n");
  EXPECT_EQ(t.listing("/x", c.now), "  (no locks matching '/x')\n");
}

TEST(Locks, AnswerTexts) {
  LockTable t;
  FakeClock c;
  auto a = t.call_lock("r", "o1", c.now);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "Locked: r (owner: o1)\n");
  a = t.call_lock("r", "o2", c.now);
  EXPECT_EQ(a.status, 409);
  EXPECT_EQ(a.body, "Already locked by: o1\n");
  a = t.call_lock("", "o2", c.now);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.body, "Need: resource, owner headers\n");
  a = t.call_lock(std::string(300, 'r'), "o2", c.now);
  EXPECT_EQ(a.status, 400);
  a = t.call_keepalive("r", "o1", c.now);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(t.call_keepalive("r", "o2", c.now).status, 404);
  EXPECT_EQ(t.call_keepalive("q", "o1", c.now).status, 404);
  a = t.call_unlock("r", "o2");
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(a.body, "Not your lock\n");
  a = t.call_unlock("r", "o1");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "Unlocked: r\n");
  a = t.call_unlock("r", "o1");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, "Not locked\n");
  EXPECT_EQ(t.call_unlock("r", "").status, 400);
}

TEST(Locks, NoFixedCapacity) {
  LockTable t;
  FakeClock c;
  for (int i = 0; i < 500; ++i)
    ASSERT_EQ(t.lock("res" + std::to_string(i), "o", c.now), LockResult::Ok);
  EXPECT_EQ(t.size(), 500u);
}

}  // namespace
}  // namespace portal::events

#include "router/identity/throttle.h"

#include <gtest/gtest.h>

#include <string>

namespace portal::identity {
namespace {

using std::chrono::seconds;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

TEST(Throttle, FreeFailuresThenDoublingDelay) {
  Throttle t;
  TimePoint now = kT0;
  for (unsigned i = 1; i <= 5; ++i) {
    EXPECT_FALSE(t.check("alice", now).has_value());
    auto out = t.failure("alice", now);
    EXPECT_EQ(out.failures, i);
    EXPECT_EQ(out.locked_for, seconds(0));
  }
  EXPECT_FALSE(t.check("alice", now).has_value());
  // Sixth failure: 1 s, then 2, 4, 8 ... each attempted once the previous lock ended.
  seconds expected{1};
  for (int i = 0; i < 8; ++i) {
    auto out = t.failure("alice", now);
    EXPECT_EQ(out.locked_for, expected);
    EXPECT_EQ(t.check("alice", now), expected);
    EXPECT_EQ(t.check("alice", now + expected - seconds(1)), seconds(1));
    now += expected;
    EXPECT_FALSE(t.check("alice", now).has_value());
    expected *= 2;
  }
}

TEST(Throttle, DelayCapsAtFifteenMinutes) {
  Throttle t;
  TimePoint now = kT0;
  FailureOutcome out;
  for (int i = 0; i < 40; ++i) {
    out = t.failure("bob", now);
    now += out.locked_for;
  }
  EXPECT_EQ(out.locked_for, seconds(900));
  EXPECT_EQ(out.failures, 40u);
}

TEST(Throttle, CheckRoundsUpPartialSeconds) {
  Throttle t(ThrottleConfig{0, seconds(1), seconds(60), seconds(3600), 10});
  t.failure("k", kT0);
  EXPECT_EQ(t.check("k", kT0 + std::chrono::milliseconds(100)), seconds(1));
  EXPECT_FALSE(t.check("k", kT0 + seconds(1)).has_value());
}

TEST(Throttle, SuccessClearsAndKeysAreIndependent) {
  Throttle t(ThrottleConfig{1, seconds(1), seconds(60), seconds(3600), 10});
  t.failure("alice", kT0);
  t.failure("alice", kT0);
  EXPECT_TRUE(t.check("alice", kT0).has_value());
  EXPECT_FALSE(t.check("10.0.0.1", kT0).has_value());
  t.success("alice");
  EXPECT_FALSE(t.check("alice", kT0).has_value());
  EXPECT_EQ(t.failure("alice", kT0).failures, 1u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(Throttle, QuietKeysAreForgotten) {
  Throttle t(ThrottleConfig{2, seconds(1), seconds(60), seconds(600), 10});
  for (int i = 0; i < 4; ++i) t.failure("alice", kT0);  // locked 2 s
  t.failure("bob", kT0 + seconds(300));
  // Counting restarts after a quiet period, even without a sweep.
  EXPECT_EQ(t.failure("alice", kT0 + seconds(2) + seconds(600)).failures, 1u);
  EXPECT_EQ(t.sweep(kT0 + seconds(899)), 0u);
  EXPECT_EQ(t.sweep(kT0 + seconds(900)), 1u);  // bob
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.sweep(kT0 + seconds(10000)), 1u);
  EXPECT_EQ(t.size(), 0u);
}

TEST(Throttle, MemoryCapEvictsLeastRecentlyFailed) {
  Throttle t(ThrottleConfig{0, seconds(1), seconds(60), seconds(3600), 100});
  for (int i = 0; i < 100; ++i) t.failure("k" + std::to_string(i), kT0 + seconds(i));
  t.failure("k0", kT0 + seconds(100));  // k0 becomes the most recent
  for (int i = 100; i < 1000; ++i) {
    t.failure("k" + std::to_string(i), kT0 + seconds(101));
    EXPECT_LE(t.size(), 100u);
  }
  EXPECT_EQ(t.size(), 100u);
  EXPECT_FALSE(t.check("k1", kT0 + seconds(101)).has_value());  // evicted
  EXPECT_TRUE(t.check("k999", kT0 + seconds(101)).has_value());
}

TEST(Throttle, FailuresWhileLockedDoNotShortenTheLock) {
  Throttle t(ThrottleConfig{0, seconds(10), seconds(900), seconds(3600), 10});
  t.failure("k", kT0);  // 10 s
  t.failure("k", kT0 + seconds(1));  // 20 s from now
  EXPECT_EQ(t.check("k", kT0 + seconds(1)), seconds(20));
}

}  // namespace
}  // namespace portal::identity

#include "supervisor/restart_policy.h"

#include <gtest/gtest.h>

namespace portal::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A fake clock: time moves only when the test says so.
struct FakeClock {
  Clock::time_point now{seconds(1000)};
  void advance(Clock::duration d) { now += d; }
};

// Starts an incarnation, lets it live `uptime`, then reports how it ended.
Decision run_and_exit(RestartPolicy& p, FakeClock& clock, Clock::duration uptime, ExitKind kind) {
  p.started(clock.now);
  clock.advance(uptime);
  return p.exited(kind, clock.now);
}

TEST(RestartPolicy, FirstCrashRestartsAtOnce) {
  RestartPolicy p;
  FakeClock c;
  Decision d = run_and_exit(p, c, seconds(1), ExitKind::failure);
  EXPECT_EQ(d.verdict, Verdict::restart);
  EXPECT_EQ(d.delay, milliseconds(0));
}

TEST(RestartPolicy, BackoffDoublesFrom100ms) {
  RestartPolicy p;
  FakeClock c;
  // Spaced 3 s apart: never more than 5 within 10 s, so never parked.
  std::vector<milliseconds> delays;
  for (int i = 0; i < 6; ++i) {
    Decision d = run_and_exit(p, c, seconds(3), ExitKind::failure);
    ASSERT_EQ(d.verdict, Verdict::restart) << "crash " << i;
    delays.push_back(d.delay);
    c.advance(d.delay);
  }
  std::vector<milliseconds> want{milliseconds(0),   milliseconds(100), milliseconds(200),
                                 milliseconds(400), milliseconds(800), milliseconds(1600)};
  EXPECT_EQ(delays, want);
}

TEST(RestartPolicy, BackoffIsCappedAt30s) {
  RestartPolicy p;
  FakeClock c;
  Decision d;
  for (int i = 0; i < 20; ++i) {
    d = run_and_exit(p, c, seconds(5), ExitKind::failure);
    ASSERT_EQ(d.verdict, Verdict::restart);
    EXPECT_LE(d.delay, kMaxBackoff);
    c.advance(d.delay);
  }
  EXPECT_EQ(d.delay, milliseconds(30000));
}

TEST(RestartPolicy, HealthyUptimeResetsBackoff) {
  RestartPolicy p;
  FakeClock c;
  for (int i = 0; i < 4; ++i) c.advance(run_and_exit(p, c, seconds(3), ExitKind::failure).delay);
  EXPECT_EQ(p.consecutive_failures(), 4u);
  Decision d = run_and_exit(p, c, seconds(60), ExitKind::failure);
  EXPECT_EQ(d.verdict, Verdict::restart);
  EXPECT_EQ(d.delay, milliseconds(0));
  EXPECT_EQ(p.consecutive_failures(), 1u);
  // Just under 60 s does not count as healthy.
  d = run_and_exit(p, c, seconds(59), ExitKind::failure);
  EXPECT_EQ(d.delay, milliseconds(100));
}

TEST(RestartPolicy, SixCrashesInTenSecondsPark) {
  RestartPolicy p;
  FakeClock c;
  for (int i = 0; i < 5; ++i) {
    Decision d = run_and_exit(p, c, milliseconds(10), ExitKind::failure);
    ASSERT_EQ(d.verdict, Verdict::restart) << "crash " << i;
    c.advance(d.delay);
  }
  Decision d = run_and_exit(p, c, milliseconds(10), ExitKind::failure);
  EXPECT_EQ(d.verdict, Verdict::fail);
  EXPECT_NE(d.reason.find("crash loop"), std::string::npos);
}

TEST(RestartPolicy, CrashesSpreadOverMoreThanTenSecondsDoNotPark) {
  RestartPolicy p;
  FakeClock c;
  for (int i = 0; i < 12; ++i) {
    Decision d = run_and_exit(p, c, milliseconds(2100), ExitKind::failure);
    ASSERT_EQ(d.verdict, Verdict::restart) << "crash " << i;
    c.advance(d.delay);
  }
}

TEST(RestartPolicy, ResetForgetsCrashHistory) {
  RestartPolicy p;
  FakeClock c;
  for (int i = 0; i < 5; ++i) run_and_exit(p, c, milliseconds(1), ExitKind::failure);
  p.reset();
  Decision d = run_and_exit(p, c, milliseconds(1), ExitKind::failure);
  EXPECT_EQ(d.verdict, Verdict::restart);
  EXPECT_EQ(d.delay, milliseconds(0));
}

TEST(RestartPolicy, FatalConfigIsNeverRespawned) {
  for (auto mode : {RestartMode::on_failure, RestartMode::always, RestartMode::never}) {
    RestartPolicy p(mode);
    FakeClock c;
    Decision d = run_and_exit(p, c, seconds(1), ExitKind::fatal_config);
    EXPECT_EQ(d.verdict, Verdict::fail);
    EXPECT_EQ(d.reason, "fatal configuration");
  }
}

TEST(RestartPolicy, OnFailureLeavesCleanExitStopped) {
  RestartPolicy p(RestartMode::on_failure);
  FakeClock c;
  EXPECT_EQ(run_and_exit(p, c, seconds(1), ExitKind::clean).verdict, Verdict::stop);
}

TEST(RestartPolicy, AlwaysRestartsCleanExit) {
  RestartPolicy p(RestartMode::always);
  FakeClock c;
  Decision d = run_and_exit(p, c, seconds(1), ExitKind::clean);
  EXPECT_EQ(d.verdict, Verdict::restart);
  EXPECT_EQ(d.delay, milliseconds(0));
  // ...and a clean exit loop is still a loop.
  for (int i = 0; i < 5; ++i) d = run_and_exit(p, c, milliseconds(1), ExitKind::clean);
  EXPECT_EQ(d.verdict, Verdict::fail);
}

TEST(RestartPolicy, NeverRestarts) {
  RestartPolicy p(RestartMode::never);
  FakeClock c;
  EXPECT_EQ(run_and_exit(p, c, seconds(1), ExitKind::failure).verdict, Verdict::fail);
  EXPECT_EQ(run_and_exit(p, c, seconds(1), ExitKind::clean).verdict, Verdict::stop);
}

TEST(RestartPolicy, RouterPolicyNeverParksButBacksOff) {
  RestartPolicy p(RestartMode::always, /*can_park=*/false);
  FakeClock c;
  Decision d;
  for (int i = 0; i < 10; ++i) {
    d = run_and_exit(p, c, milliseconds(1), ExitKind::failure);
    ASSERT_EQ(d.verdict, Verdict::restart);
    c.advance(d.delay);
  }
  EXPECT_GT(d.delay, milliseconds(0));
}

}  // namespace
}  // namespace portal::supervisor

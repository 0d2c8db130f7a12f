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
    EXPECT_LE(d.delay, RestartLimits{}.backoff_max);
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
  RestartPolicy p(RestartMode::always, router_restart_limits());
  FakeClock c;
  Decision d;
  for (int i = 0; i < 10; ++i) {
    d = run_and_exit(p, c, milliseconds(1), ExitKind::failure);
    ASSERT_EQ(d.verdict, Verdict::restart);
    c.advance(d.delay);
  }
  EXPECT_GT(d.delay, milliseconds(0));
}

// Per-module limits ([mod_<name>] backoff_initial_ms ... healthy_reset_ms).

RestartLimits limits_with(void (*set)(RestartLimits&)) {
  RestartLimits l;
  set(l);
  return l;
}

// The delays of `n` crashes, each after `uptime`, waiting out every delay.
std::vector<milliseconds> delays_of(RestartPolicy& p, FakeClock& c, int n, Clock::duration uptime) {
  std::vector<milliseconds> out;
  for (int i = 0; i < n; ++i) {
    Decision d = run_and_exit(p, c, uptime, ExitKind::failure);
    EXPECT_EQ(d.verdict, Verdict::restart) << "crash " << i << ": " << d.reason;
    if (d.verdict != Verdict::restart) break;
    out.push_back(d.delay);
    c.advance(d.delay);
  }
  return out;
}

TEST(RestartLimits, DefaultsAreTheDesigns) {
  RestartLimits l;
  EXPECT_EQ(l.backoff_initial, milliseconds(100));
  EXPECT_EQ(l.backoff_max, milliseconds(30000));
  EXPECT_EQ(l.crash_limit, 5u);
  EXPECT_EQ(l.crash_window, milliseconds(10000));
  EXPECT_EQ(l.healthy_reset, milliseconds(60000));
}

TEST(RestartLimits, BackoffInitialSetsTheSecondDelay) {
  RestartPolicy p(RestartMode::on_failure,
                  limits_with([](RestartLimits& l) { l.backoff_initial = milliseconds(250); }));
  FakeClock c;
  std::vector<milliseconds> want{milliseconds(0), milliseconds(250), milliseconds(500), milliseconds(1000)};
  EXPECT_EQ(delays_of(p, c, 4, seconds(3)), want);
}

TEST(RestartLimits, BackoffMaxCaps) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.backoff_max = milliseconds(300); }));
  FakeClock c;
  std::vector<milliseconds> want{milliseconds(0), milliseconds(100), milliseconds(200), milliseconds(300),
                                 milliseconds(300)};
  EXPECT_EQ(delays_of(p, c, 5, seconds(3)), want);
}

TEST(RestartLimits, BackoffZeroRestartsEveryCrashAtOnce) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.backoff_initial = milliseconds(0); }));
  FakeClock c;
  // Spaced so that the default crash limit is not reached.
  EXPECT_EQ(delays_of(p, c, 8, seconds(3)), std::vector<milliseconds>(8, milliseconds(0)));
}

TEST(RestartLimits, NoCrashLimitAndNoBackoffRestartHundredCrashesAtOnce) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) {
                    l.crash_limit = 0;
                    l.backoff_initial = milliseconds(0);
                  }));
  FakeClock c;
  EXPECT_EQ(delays_of(p, c, 100, milliseconds(1)), std::vector<milliseconds>(100, milliseconds(0)));
  EXPECT_EQ(p.consecutive_failures(), 100u);
}

TEST(RestartLimits, NoCrashLimitNeverParksButStillBacksOff) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.crash_limit = 0; }));
  FakeClock c;
  auto delays = delays_of(p, c, 100, milliseconds(1));
  ASSERT_EQ(delays.size(), 100u);
  EXPECT_EQ(delays[1], milliseconds(100));
  EXPECT_EQ(delays.back(), milliseconds(30000));
}

TEST(RestartLimits, CrashLimitParksAfterThatManyPlusOne) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.crash_limit = 2; }));
  FakeClock c;
  EXPECT_EQ(delays_of(p, c, 2, milliseconds(10)).size(), 2u);
  Decision d = run_and_exit(p, c, milliseconds(10), ExitKind::failure);
  EXPECT_EQ(d.verdict, Verdict::fail);
  EXPECT_EQ(d.reason, "crash loop: 3 exits in 10 s");
}

TEST(RestartLimits, CrashLimitOneParksTheSecondQuickCrash) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.crash_limit = 1; }));
  FakeClock c;
  EXPECT_EQ(run_and_exit(p, c, milliseconds(10), ExitKind::failure).verdict, Verdict::restart);
  EXPECT_EQ(run_and_exit(p, c, milliseconds(10), ExitKind::failure).verdict, Verdict::fail);
}

TEST(RestartLimits, CrashWindow) {
  auto limits = limits_with([](RestartLimits& l) {
    l.crash_window = milliseconds(1500);
    l.backoff_initial = milliseconds(0);
  });
  // 1.5 s window: crashes 400 ms apart put at most 4 in it, never more than 5.
  RestartPolicy spread(RestartMode::on_failure, limits);
  FakeClock c;
  EXPECT_EQ(delays_of(spread, c, 30, milliseconds(400)).size(), 30u);
  // 100 ms apart: the 6th within 1.5 s parks, and the reason names the window.
  RestartPolicy quick(RestartMode::on_failure, limits);
  EXPECT_EQ(delays_of(quick, c, 5, milliseconds(100)).size(), 5u);
  Decision d = run_and_exit(quick, c, milliseconds(100), ExitKind::failure);
  EXPECT_EQ(d.verdict, Verdict::fail);
  EXPECT_EQ(d.reason, "crash loop: 6 exits in 1500 ms");
}

TEST(RestartLimits, HealthyReset) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.healthy_reset = seconds(5); }));
  FakeClock c;
  delays_of(p, c, 4, seconds(3));
  EXPECT_EQ(p.consecutive_failures(), 4u);
  Decision d = run_and_exit(p, c, milliseconds(4999), ExitKind::failure);
  EXPECT_EQ(d.delay, milliseconds(800)) << "just under healthy_reset still counts";
  c.advance(d.delay);
  d = run_and_exit(p, c, seconds(5), ExitKind::failure);
  EXPECT_EQ(d.delay, milliseconds(0));
  EXPECT_EQ(p.consecutive_failures(), 1u);
}

TEST(RestartLimits, HealthyResetZeroNeverBacksOff) {
  RestartPolicy p(RestartMode::on_failure, limits_with([](RestartLimits& l) { l.healthy_reset = milliseconds(0); }));
  FakeClock c;
  EXPECT_EQ(delays_of(p, c, 5, seconds(3)), std::vector<milliseconds>(5, milliseconds(0)));
}

TEST(RestartLimits, FatalConfigFailsEvenWithoutCrashLimit) {
  RestartPolicy p(RestartMode::always, limits_with([](RestartLimits& l) { l.crash_limit = 0; }));
  FakeClock c;
  EXPECT_EQ(run_and_exit(p, c, seconds(1), ExitKind::fatal_config).verdict, Verdict::fail);
}

TEST(RestartLimits, NewLimitsApplyFromTheNextExit) {
  RestartPolicy p;
  FakeClock c;
  delays_of(p, c, 3, seconds(3));  // 0, 100, 200
  p.set_limits(limits_with([](RestartLimits& l) { l.backoff_initial = milliseconds(1000); }));
  EXPECT_EQ(run_and_exit(p, c, seconds(3), ExitKind::failure).delay, milliseconds(4000));
}

}  // namespace
}  // namespace portal::supervisor

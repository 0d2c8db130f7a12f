// ModuleRuntime timers: repeating and one-shot, removal, cleanup at stop.
#include <gtest/gtest.h>

#include <atomic>

#include "runtime_test_util.h"

namespace portal::test {
namespace {

using namespace std::chrono_literals;

class TimersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host::RuntimeOptions o;
    o.module_name = "timers";
    rt_ = std::make_unique<host::ModuleRuntime>(std::move(o), uplink_);
    ASSERT_TRUE(rt_->start(std::make_unique<LambdaModule>()));
  }
  RecordingUplink uplink_;
  std::unique_ptr<host::ModuleRuntime> rt_;
};

TEST_F(TimersTest, RepeatingTimerRunsUntilRemoved) {
  std::atomic<int> n{0};
  std::atomic<std::thread::id> on;
  TimerId id = rt_->add_timer(2ms, [&] {
    on = std::this_thread::get_id();
    ++n;
  });
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(eventually([&] { return n.load() >= 3; }));
  EXPECT_NE(on.load(), std::this_thread::get_id());  // the module's event loop
  EXPECT_TRUE(rt_->remove_timer(id));
  std::this_thread::sleep_for(5ms);  // a run already under way may finish
  int stopped_at = n.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(n.load(), stopped_at);
  EXPECT_FALSE(rt_->remove_timer(id));
}

TEST_F(TimersTest, OneShotRunsOnceAndRemovalAfterwardsIsHarmless) {
  std::atomic<int> n{0};
  TimerId id = rt_->add_timer(1ms, [&] { ++n; }, false);
  ASSERT_TRUE(eventually([&] { return n.load() == 1; }));
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(n.load(), 1);
  EXPECT_FALSE(rt_->remove_timer(id));
}

TEST_F(TimersTest, RemovedBeforeFiringNeverRuns) {
  std::atomic<int> n{0};
  TimerId id = rt_->add_timer(20ms, [&] { ++n; }, false);
  EXPECT_TRUE(rt_->remove_timer(id));
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(n.load(), 0);
}

TEST_F(TimersTest, TimerCanRemoveItself) {
  std::atomic<int> n{0};
  std::atomic<TimerId> id{0};
  std::atomic<bool> ready{false};
  id = rt_->add_timer(1ms, [&] {
    while (!ready.load()) std::this_thread::yield();
    if (++n == 2) rt_->remove_timer(id.load());
  });
  ready = true;
  ASSERT_TRUE(eventually([&] { return n.load() >= 2; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(n.load(), 2);
}

TEST_F(TimersTest, ThrowingTimerKeepsRunningAndTheLoopSurvives) {
  std::atomic<int> n{0};
  rt_->add_timer(1ms, [&] {
    ++n;
    throw std::runtime_error("timer threw");
  });
  ASSERT_TRUE(eventually([&] { return n.load() >= 3; }));
}

TEST_F(TimersTest, StopCancelsTimers) {
  std::atomic<int> n{0};
  rt_->add_timer(1ms, [&] { ++n; });
  rt_->add_timer(50ms, [&] { ++n; }, false);
  ASSERT_TRUE(eventually([&] { return n.load() >= 1; }));
  rt_->stop();
  int at_stop = n.load();
  std::this_thread::sleep_for(70ms);
  EXPECT_EQ(n.load(), at_stop);
  EXPECT_EQ(rt_->add_timer(1ms, [] {}), 0u);
}

}  // namespace
}  // namespace portal::test

// The per-thread crash guard, bare and inside a ModuleRuntime (isolation = inprocess).
#include <gtest/gtest.h>

#include <csignal>
#include <future>

#include "host/crash_guard.h"
#include "runtime_test_util.h"

namespace portal::test {
namespace {

[[gnu::noinline]] void null_write() {
  volatile int* volatile p = nullptr;
  *p = 42;
}

volatile int g_bottom = -1;
[[gnu::noinline]] int recurse(int depth) {
  if (depth == g_bottom) return 0;
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}

TEST(CrashGuard, ReturnsZeroWhenNothingHappens) {
  int ran = 0;
  auto fn = [&] { ran = 1; };
  EXPECT_EQ(host::run_guarded(fn), 0);
  EXPECT_EQ(ran, 1);
}

TEST(CrashGuard, CatchesASegfaultOnAnyThread) {
  auto run = [] {
    auto fn = [] { null_write(); };
    return host::run_guarded(fn);
  };
  EXPECT_EQ(std::async(std::launch::async, run).get(), SIGSEGV);
  EXPECT_EQ(run(), SIGSEGV);  // and again, on this thread
}

TEST(CrashGuard, CatchesAStackOverflow) {
  auto run = [] {
    auto fn = [] { (void)recurse(0); };
    return host::run_guarded(fn);
  };
  EXPECT_EQ(std::async(std::launch::async, run).get(), SIGSEGV);
}

TEST(CrashGuard, CatchesRaisedSignals) {
  auto fn = [] { std::raise(SIGFPE); };
  EXPECT_EQ(host::run_guarded(fn), SIGFPE);
  auto ill = [] { std::raise(SIGILL); };
  EXPECT_EQ(host::run_guarded(ill), SIGILL);
}

TEST(CrashGuard, NestedGuardsUnwindToTheInnermost) {
  int inner_sig = -1;
  bool outer_continued = false;
  auto outer = [&] {
    auto inner = [] { null_write(); };
    inner_sig = host::run_guarded(inner);
    outer_continued = true;
  };
  EXPECT_EQ(host::run_guarded(outer), 0);
  EXPECT_EQ(inner_sig, SIGSEGV);
  EXPECT_TRUE(outer_continued);
  // The outer guard is still in force after the inner one caught.
  auto outer2 = [&] {
    auto inner = [] {};
    (void)host::run_guarded(inner);
    null_write();
  };
  EXPECT_EQ(host::run_guarded(outer2), SIGSEGV);
}

TEST(CrashGuard, ExceptionsPassThrough) {
  auto fn = [] { throw std::runtime_error("x"); };
  EXPECT_THROW(host::run_guarded(fn), std::runtime_error);
  auto crash = [] { null_write(); };
  EXPECT_EQ(host::run_guarded(crash), SIGSEGV);  // guard state restored after the throw
}

TEST(CrashGuardDeathTest, FaultOutsideAGuardKillsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  host::install_crash_handler();
  EXPECT_EXIT(null_write(), ::testing::KilledBySignal(SIGSEGV), "");
}

TEST(CrashGuard, DescribesSignals) {
  EXPECT_EQ(host::describe_signal(SIGSEGV), "signal 11 (Segmentation fault)");
}

TEST(GuardedRuntime, CrashingHandlerAnswers500ThenTheModuleIsDisabled) {
  RecordingUplink uplink;
  std::atomic<int> crashes{0};
  std::string reason;
  host::RuntimeOptions o;
  o.module_name = "g";
  o.crash_guard = true;
  o.on_crash = [&](const std::string& why) {
    reason = why;
    ++crashes;
  };
  auto m = std::make_unique<LambdaModule>();
  m->on_load = [](Core& core) {
    (void)core.register_path({.path = "/g/segv"}, [](const Message&) -> Response {
      null_write();
      return respond(200, "unreachable");
    });
    (void)core.register_path({.path = "/g/ok"}, [](const Message&) { return respond(200, "ok"); });
    return Status{};
  };
  auto rt = std::make_unique<host::ModuleRuntime>(std::move(o), uplink);
  ASSERT_TRUE(rt->start(std::move(m)));

  // In a thread, as a router's handler pool would run it.
  std::async(std::launch::async, [&] { rt->handle(request_env(1, "/g/segv")); }).get();
  auto sent = uplink.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].response().status(), 500u);
  EXPECT_EQ(sent[0].response().body(), "Module crashed\n");
  EXPECT_TRUE(rt->crashed());
  EXPECT_EQ(crashes.load(), 1);
  EXPECT_NE(reason.find("signal 11"), std::string::npos);
  EXPECT_NE(reason.find("/g/segv"), std::string::npos);

  rt->handle(request_env(2, "/g/ok"));
  EXPECT_EQ(uplink.sent().back().response().status(), 503u);
  rt->handle(request_env(3, "/g/segv"));
  EXPECT_EQ(uplink.sent().back().response().status(), 503u);
  EXPECT_EQ(crashes.load(), 1);  // on_crash once
  rt->stop();  // does not run unload() of crashed code
}

}  // namespace
}  // namespace portal::test

// crashy on the stub router, loaded from the built mod_crashy.so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>

#include "testing/stub_router.h"

namespace {

using portal::Method;
using portal::testing::StubRouter;

TEST(CrashyTest, FailLoadFatalIsAFatalConfigError) {
  StubRouter stub;
  stub.set_config("fail_load", "fatal");
  portal::Status s = stub.load_library(MOD_CRASHY_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, portal::kFatalConfig);
  EXPECT_FALSE(stub.loaded());
}

TEST(CrashyTest, FailLoadErrorIsAPlainError) {
  StubRouter stub;
  stub.set_config("fail_load", "error");
  portal::Status s = stub.load_library(MOD_CRASHY_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, 500);
}

class CrashyLoaded : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(stub_.load_library(MOD_CRASHY_PATH)); }
  StubRouter stub_;
};

TEST_F(CrashyLoaded, EchoReturnsTheBody) {
  std::string body(1 << 20, 'x');
  body[12345] = '\0';
  portal::Response r = stub_.request(Method::call, "/crashy/functions/echo", {}, body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
}

TEST_F(CrashyLoaded, Pid) {
  EXPECT_EQ(stub_.request(Method::get, "/crashy/resources/pid").body, std::to_string(::getpid()) + "\n");
}

TEST_F(CrashyLoaded, ThrowBecomes500) {
  portal::Response r = stub_.request(Method::call, "/crashy/functions/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "crashy threw");
}

TEST_F(CrashyLoaded, HangWithMsReturns) {
  portal::Response r = stub_.request(Method::call, "/crashy/functions/hang", {{"ms", "1"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slept 1 ms\n");
}

TEST_F(CrashyLoaded, CallForwardsAndReturnsTheAnswer) {
  stub_.on_send("/hello/*", [](const portal::Message& m) { return portal::respond(201, "got " + m.body); });
  portal::Response r =
      stub_.request(Method::set, "/crashy/functions/call", {{"path", "/hello/resources/greeting"}}, "payload");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "got payload");
  auto sent = stub_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/hello/resources/greeting");
  EXPECT_EQ(sent[0].method, Method::set);
  EXPECT_EQ(sent[0].ctx.source_module, "crashy");
  EXPECT_NE(sent[0].ctx.trace.parent_id, 0u);
}

TEST_F(CrashyLoaded, CallWithoutPathIs400) {
  EXPECT_EQ(stub_.request(Method::call, "/crashy/functions/call").status, 400);
}

TEST_F(CrashyLoaded, UnansweredCallIs404) {
  EXPECT_EQ(stub_.request(Method::call, "/crashy/functions/call", {{"path", "/nobody/home"}}).status, 404);
}

TEST_F(CrashyLoaded, CallCanForgeItsIdentityAndForwardHeaders) {
  stub_.on_send("*", [](const portal::Message&) { return portal::respond(200); });
  portal::Response r = stub_.request(
      Method::call, "/crashy/functions/call",
      {{"path", "/x"}, {"as_user", "mallory"}, {"assert_user", "alice"}, {"fwd_name", "v"}, {"fwd_", "ignored"}});
  EXPECT_EQ(r.status, 200);
  auto sent = stub_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ctx.auth.user, "mallory");
  EXPECT_EQ(sent[0].ctx.auth.labels, (std::vector<std::string>{"root", "admin"}));
  EXPECT_EQ(sent[0].ctx.asserted.user, "alice");
  EXPECT_EQ(sent[0].header_or("name", ""), "v");
  EXPECT_EQ(sent[0].header("fwd_name"), nullptr);
  EXPECT_EQ(sent[0].headers.size(), 1u);
}

TEST_F(CrashyLoaded, DeclaresTwoEvents) {
  auto events = stub_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].path, "/events/crashy/ping");
  EXPECT_EQ(events[0].description, "Test event");
  EXPECT_TRUE(events[0].labels.empty());
  EXPECT_EQ(events[1].path, "/events/crashy/secret");
  EXPECT_EQ(events[1].labels, std::vector<std::string>{"admin"});
  EXPECT_TRUE(stub_.subscriptions().empty());  // no `subscribe` setting
}

TEST_F(CrashyLoaded, EmitEmitsCountEvents) {
  portal::Response r =
      stub_.request(Method::call, "/crashy/functions/emit", {{"path", "/events/crashy/ping"}, {"count", "3"}}, "b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "emitted 3\n");
  auto emitted = stub_.emitted();
  ASSERT_EQ(emitted.size(), 3u);
  EXPECT_EQ(emitted[2].path, "/events/crashy/ping");
  EXPECT_EQ(emitted[2].body, "b");
  EXPECT_EQ(stub_.request(Method::call, "/crashy/functions/emit", {{"path", "/events/crashy/ping"}}).body,
            "emitted 1\n");
  EXPECT_EQ(stub_.request(Method::call, "/crashy/functions/emit", {{"path", "/x"}, {"count", "lots"}}).status, 400);
  EXPECT_EQ(stub_.request(Method::call, "/crashy/functions/emit").status, 400);
}

TEST(CrashyTest, SubscriberCountsEventsAndDrops) {
  StubRouter stub;
  stub.set_config("subscribe", "/events/crashy/*");
  stub.set_config("subscriber_delay_ms", "1");
  ASSERT_TRUE(stub.load_library(MOD_CRASHY_PATH));
  auto subs = stub.subscriptions();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].pattern, "/events/crashy/*");
  EXPECT_EQ(stub.request(Method::get, "/crashy/resources/events").body, "seen=0 dropped=0\n");
  EXPECT_EQ(stub.deliver_event("/events/crashy/ping", "", 5), 1u);
  EXPECT_EQ(stub.deliver_event("/events/other"), 0u);
  // Its own emits reach it too.
  (void)stub.request(Method::call, "/crashy/functions/emit", {{"path", "/events/crashy/ping"}, {"count", "2"}});
  stub.poll();
  EXPECT_EQ(stub.request(Method::get, "/crashy/resources/events").body, "seen=3 dropped=5\n");
  ASSERT_TRUE(stub.unload());
  EXPECT_EQ(stub.leftovers().subscriptions, 1u);  // crashy leaves cleanup to the host
  EXPECT_EQ(stub.leftovers().events.size(), 2u);
}

TEST(CrashyTest, BadSubscriberDelayIsAFatalConfigError) {
  StubRouter stub;
  stub.set_config("subscribe", "*");
  stub.set_config("subscriber_delay_ms", "slow");
  portal::Status s = stub.load_library(MOD_CRASHY_PATH);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, portal::kFatalConfig);
}

TEST_F(CrashyLoaded, ExitCodes) {
  EXPECT_EXIT(stub_.request(Method::call, "/crashy/functions/exit", {{"code", "3"}}), ::testing::ExitedWithCode(3), "");
  EXPECT_EXIT(stub_.request(Method::call, "/crashy/functions/exit", {{"code", "fatal"}}),
              ::testing::ExitedWithCode(portal::kExitFatalConfig), "");
}

TEST_F(CrashyLoaded, SegfaultAndAbortKillTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(stub_.request(Method::call, "/crashy/functions/segfault"), ::testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(stub_.request(Method::call, "/crashy/functions/abort"), ::testing::KilledBySignal(SIGABRT), "");
}

}  // namespace

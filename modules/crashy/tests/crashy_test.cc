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

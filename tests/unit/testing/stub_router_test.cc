// The stub router itself: what module authors rely on when they unit-test a module.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include "testing/stub_router.h"

namespace portal::testing {
namespace {

using namespace std::chrono_literals;

// A module assembled from lambdas, so each test sets up only what it needs.
class TestModule final : public Module {
 public:
  std::function<Status(Core&)> on_load = [](Core&) { return Status{}; };
  std::function<void(Core&)> on_unload = [](Core&) {};
  std::vector<std::string> changed;
  Status load(Core& core) override { return on_load(core); }
  void unload(Core& core) override { on_unload(core); }
  void config_changed(Core&, std::string_view key) override { changed.emplace_back(key); }
};

Handler answer(std::string text) {
  return [text](const Message&) { return respond(status::ok, text); };
}

TEST(StubRouter, RequestsRunHandlersWithExactAndWildcardLookup) {
  StubRouter stub("m");
  auto m = std::make_unique<TestModule>();
  m->on_load = [](Core& core) {
    (void)core.register_path({.path = "/m/a"}, answer("a"));
    (void)core.register_path({.path = "/m/*"}, answer("m/*"));
    (void)core.register_path({.path = "/m/x/*"}, answer("m/x/*"));
    return Status{};
  };
  ASSERT_TRUE(stub.load(std::move(m)));
  EXPECT_EQ(stub.request(Method::get, "/m/a").body, "a");
  EXPECT_EQ(stub.request(Method::get, "/m/b").body, "m/*");
  EXPECT_EQ(stub.request(Method::get, "/m/x/y/z").body, "m/x/*");
  EXPECT_EQ(stub.request(Method::get, "/other").status, 404);
}

TEST(StubRouter, HandlersSeeMethodHeadersBodyAndIdentity) {
  StubRouter stub;
  Message seen;
  auto m = std::make_unique<TestModule>();
  m->on_load = [&](Core& core) {
    return core.register_path({.path = "/t/see"}, [&](const Message& msg) {
      seen = msg;
      return respond(status::created);
    });
  };
  ASSERT_TRUE(stub.load(std::move(m)));
  EXPECT_EQ(stub.request(Method::set, "/t/see", {{"k", "v"}}, "body").status, 201);
  EXPECT_EQ(seen.method, Method::set);
  EXPECT_EQ(seen.header_or("k", ""), "v");
  EXPECT_EQ(seen.body, "body");
  EXPECT_NE(seen.id, 0u);

  Message as_admin = make_message(Method::get, "/t/see");
  as_admin.ctx.auth = {"alice", {"admin"}};
  (void)stub.request(as_admin);
  EXPECT_EQ(seen.ctx.auth.user, "alice");
}

TEST(StubRouter, ExceptionsBecome500) {
  StubRouter stub;
  auto m = std::make_unique<TestModule>();
  m->on_load = [](Core& core) {
    return core.register_path({.path = "/t/boom"}, [](const Message&) -> Response { throw std::logic_error("boom"); });
  };
  ASSERT_TRUE(stub.load(std::move(m)));
  Response r = stub.request(Method::get, "/t/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "boom");
}

// An asynchronous handler answers from the event loop (a send_async callback here): the
// stub's request() polls io() until the Reply comes; a dropped Reply is a 500.
TEST(StubRouter, AsyncHandlersAnswerThroughTheirReply) {
  StubRouter stub("m");
  stub.on_send("/other/x", [](const Message&) { return respond(status::ok, "from elsewhere"); });
  auto m = std::make_unique<TestModule>();
  m->on_load = [](Core& core) {
    Status s = core.register_path_async({.path = "/m/later"}, [&core](const Message&, Reply reply) {
      core.send_async(make_message(Method::get, "/other/x"),
                      [reply](Response r) { reply(respond(status::accepted, "later: " + r.body)); });
    });
    if (!s) return s;
    return core.register_path_async({.path = "/m/drop"}, [](const Message&, Reply) {});
  };
  ASSERT_TRUE(stub.load(std::move(m)));
  Response r = stub.request(Method::get, "/m/later");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "later: from elsewhere");
  EXPECT_EQ(stub.request(Method::get, "/m/drop").status, 500);
  EXPECT_TRUE(stub.path("/m/later").has_value());
}

TEST(StubRouter, ConfigKeysListsEverySettingSorted) {
  StubRouter stub;
  stub.set_config("peer:b.host", "x");
  stub.set_config("a", "1");
  EXPECT_EQ(stub.config_keys(), (std::vector<std::string>{"a", "peer:b.host"}));
}

TEST(StubRouter, RegistrationRulesMatchTheRealHosts) {
  StubRouter stub;
  auto m = std::make_unique<TestModule>();
  ASSERT_TRUE(stub.load(std::move(m)));
  EXPECT_TRUE(stub.register_path({.path = "/t/a", .description = "d", .labels = {"admin"}}, answer("")));
  EXPECT_EQ(stub.register_path({.path = "/t/a"}, answer("")).error().code, 409);
  EXPECT_FALSE(stub.register_path({.path = "no-slash"}, answer("")));
  EXPECT_FALSE(stub.register_path({.path = "/t/a*b"}, answer("")));
  auto spec = stub.path("/t/a");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->description, "d");
  EXPECT_EQ(spec->labels, std::vector<std::string>{"admin"});
  EXPECT_TRUE(stub.unregister_path("/t/a"));
  EXPECT_FALSE(stub.unregister_path("/t/a"));
  EXPECT_TRUE(stub.paths().empty());
}

class Caller : public ::testing::Test {
 protected:
  // A module whose /t/call sends the request body as a path and returns the answer.
  void SetUp() override {
    auto m = std::make_unique<TestModule>();
    m->on_load = [](Core& core) {
      (void)core.register_path({.path = "/t/own"}, answer("own"));
      return core.register_path({.path = "/t/call"}, [&core](const Message& msg) {
        return core.send(make_message(Method::get, msg.body, "payload"));
      });
    };
    ASSERT_TRUE(stub_.load(std::move(m)));
  }
  std::string call(const std::string& path) { return stub_.request(Method::call, "/t/call", {}, path).body; }
  StubRouter stub_{"caller"};
};

TEST_F(Caller, OnSendAnswersByExactPrefixThenStar) {
  stub_.on_send("*", [](const Message&) { return respond(200, "star"); });
  stub_.on_send("/a/*", [](const Message&) { return respond(200, "a/*"); });
  stub_.on_send("/a/b/*", [](const Message&) { return respond(200, "a/b/*"); });
  stub_.on_send("/a/b/c", [](const Message& m) { return respond(200, "exact:" + m.body); });
  EXPECT_EQ(call("/a/b/c"), "exact:payload");
  EXPECT_EQ(call("/a/b/d/e"), "a/b/*");
  EXPECT_EQ(call("/a/z"), "a/*");
  EXPECT_EQ(call("/a"), "star");  // "/a/*" covers what is under /a/, not /a itself
  EXPECT_EQ(call("/zzz"), "star");
}

TEST_F(Caller, UnansweredCallsReachOwnPathsElse404) {
  EXPECT_EQ(call("/t/own"), "own");
  EXPECT_EQ(stub_.request(Method::call, "/t/call", {}, "/nowhere").status, 404);
}

TEST_F(Caller, SentRecordsOutgoingMessagesWithTheirTrace) {
  stub_.on_send("/x", [](const Message&) { return respond(200); });
  Message in = make_message(Method::call, "/t/call", "/x");
  in.id = 77;
  in.ctx.trace.trace_id = 5;
  (void)stub_.request(in);
  auto sent = stub_.sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].path, "/x");
  EXPECT_EQ(sent[0].body, "payload");
  EXPECT_EQ(sent[0].ctx.source_module, "caller");
  EXPECT_EQ(sent[0].ctx.trace.parent_id, 77u);
  EXPECT_EQ(sent[0].ctx.trace.trace_id, 5u);
  stub_.clear_sent();
  EXPECT_TRUE(stub_.sent().empty());
}

TEST_F(Caller, SendAsyncCallsBackWhenTheTestPolls) {
  stub_.on_send("/x", [](const Message&) { return respond(202, "later"); });
  std::optional<Response> got;
  stub_.send_async(make_message(Method::get, "/x"), [&](Response r) { got = std::move(r); });
  EXPECT_FALSE(got);  // nothing runs unless the test makes it run
  EXPECT_EQ(stub_.poll(), 1u);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 202);
}

TEST(StubRouter, ConfigBeforeLoadIsReadInLoadAndLaterChangesNotify) {
  StubRouter stub;
  stub.set_config("k", "1");
  std::string seen_at_load;
  auto m = std::make_unique<TestModule>();
  TestModule* mod = m.get();
  m->on_load = [&](Core& core) {
    seen_at_load = core.config("k").value_or("");
    return Status{};
  };
  ASSERT_TRUE(stub.load(std::move(m)));
  EXPECT_EQ(seen_at_load, "1");
  EXPECT_TRUE(mod->changed.empty());
  stub.set_config("k", "2");
  EXPECT_EQ(stub.config("k"), "2");
  EXPECT_EQ(mod->changed, std::vector<std::string>{"k"});
  EXPECT_EQ(stub.config("missing"), std::nullopt);
}

TEST(StubRouter, FakeClockFiresTimersInOrderWithoutWaiting) {
  StubRouter stub;
  ASSERT_TRUE(stub.load(std::make_unique<TestModule>()));
  std::vector<std::string> runs;
  TimerId every10 = stub.add_timer(10ms, [&] { runs.push_back("10@" + std::to_string(stub.now().count())); });
  stub.add_timer(25ms, [&] { runs.push_back("once@" + std::to_string(stub.now().count())); }, false);
  auto t0 = std::chrono::steady_clock::now();
  stub.advance(9ms);
  EXPECT_TRUE(runs.empty());
  stub.advance(21ms);  // now 30
  EXPECT_EQ(runs, (std::vector<std::string>{"10@10", "10@20", "once@25", "10@30"}));
  EXPECT_EQ(stub.now(), 30ms);
  EXPECT_EQ(stub.timer_count(), 1u);  // the one-shot is gone
  EXPECT_TRUE(stub.remove_timer(every10));
  stub.advance(100ms);
  EXPECT_EQ(runs.size(), 4u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(StubRouter, TimersCanAddAndRemoveTimers) {
  StubRouter stub;
  ASSERT_TRUE(stub.load(std::make_unique<TestModule>()));
  int ticks = 0;
  TimerId self = 0;
  self = stub.add_timer(5ms, [&] {
    if (++ticks == 3) stub.remove_timer(self);
  });
  bool chained = false;
  stub.add_timer(1ms, [&] { stub.add_timer(1ms, [&] { chained = true; }, false); }, false);
  stub.advance(100ms);
  EXPECT_EQ(ticks, 3);
  EXPECT_TRUE(chained);
  EXPECT_EQ(stub.timer_count(), 0u);
}

TEST(StubRouter, LogsAreCaptured) {
  StubRouter stub;
  ASSERT_TRUE(stub.load(std::make_unique<TestModule>()));
  stub.log(LogLevel::warn, "disk almost full");
  auto logs = stub.logs();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].level, LogLevel::warn);
  EXPECT_TRUE(stub.logged("almost"));
  EXPECT_FALSE(stub.logged("nothing like this"));
}

TEST(StubRouter, IoIsALoopTheTestDrives) {
  StubRouter stub;
  ASSERT_TRUE(stub.load(std::make_unique<TestModule>()));
  int ran = 0;
  boost::asio::post(stub.io(), [&] { ++ran; });
  EXPECT_EQ(ran, 0);
  stub.poll();
  EXPECT_EQ(ran, 1);
}

TEST(StubRouter, UnloadRemovesWhatTheModuleLeftAndReportsIt) {
  StubRouter stub;
  auto m = std::make_unique<TestModule>();
  bool unloaded = false;
  m->on_load = [](Core& core) {
    (void)core.register_path({.path = "/t/kept"}, answer(""));
    (void)core.register_path({.path = "/t/tidy"}, answer(""));
    core.add_timer(1s, [] {});
    return Status{};
  };
  m->on_unload = [&](Core& core) {
    unloaded = true;
    (void)core.unregister_path("/t/tidy");
  };
  ASSERT_TRUE(stub.load(std::move(m)));
  ASSERT_TRUE(stub.unload());
  EXPECT_TRUE(unloaded);
  EXPECT_FALSE(stub.loaded());
  EXPECT_TRUE(stub.paths().empty());
  EXPECT_EQ(stub.timer_count(), 0u);
  EXPECT_EQ(stub.leftovers().paths, std::vector<std::string>{"/t/kept"});
  EXPECT_EQ(stub.leftovers().timers, 1u);
  EXPECT_EQ(stub.request(Method::get, "/t/kept").status, 404);
  EXPECT_FALSE(stub.unload());  // nothing loaded any more
}

TEST(StubRouter, FailedLoadIsUnloadedAndCleanedUp) {
  StubRouter stub;
  auto m = std::make_unique<TestModule>();
  m->on_load = [](Core& core) -> Status {
    (void)core.register_path({.path = "/t/a"}, answer(""));
    return make_error(kFatalConfig, "no way");
  };
  Status s = stub.load(std::move(m));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_FALSE(stub.loaded());
  EXPECT_TRUE(stub.paths().empty());
}

TEST(StubRouter, LoadLibraryRefusesWhatIsNotAModule) {
  StubRouter stub;
  EXPECT_FALSE(stub.load_library("/nonexistent/mod_x.so"));
  EXPECT_FALSE(stub.load_library("libc.so.6"));
}

TEST(StubRouter, LoadLibraryTakesTheModulesName) {
  StubRouter stub;
  ASSERT_TRUE(stub.load_library(MOD_HELLO_PATH));
  EXPECT_EQ(stub.module_name(), "hello");
  EXPECT_EQ(stub.request(Method::get, "/hello/resources/greeting").body, "Hello from Portal!\n");
}

}  // namespace
}  // namespace portal::testing

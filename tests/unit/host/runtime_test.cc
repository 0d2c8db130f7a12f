// ModuleRuntime: dispatch, registration, outgoing calls, router restarts, config, stop.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include "runtime_test_util.h"

namespace portal::test {
namespace {

using namespace std::chrono_literals;

class RuntimeTest : public ::testing::Test {
 protected:
  host::RuntimeOptions options() {
    host::RuntimeOptions o;
    o.module_name = "t";
    o.version = "1.2.3";
    o.generation = 7;
    o.call_timeout = 5s;
    return o;
  }
  // Starts a runtime whose module registers `paths` (each answering "<path>\n").
  void start(std::vector<std::string> paths, host::RuntimeOptions o) {
    auto m = std::make_unique<LambdaModule>();
    module_ = m.get();
    m->on_load = [paths](Core& core) {
      for (const auto& p : paths) {
        Status s = core.register_path({.path = p}, [p](const Message&) { return respond(200, p + "\n"); });
        if (!s) return s;
      }
      return Status{};
    };
    customize(*m);
    rt_ = std::make_unique<host::ModuleRuntime>(std::move(o), uplink_);
    ASSERT_TRUE(rt_->start(std::move(m)));
  }
  void start(std::vector<std::string> paths) { start(std::move(paths), options()); }
  virtual void customize(LambdaModule&) {}

  // Handles a request and returns the response the runtime sent for it.
  pb::Response call(const std::string& path, std::uint64_t id = 1, const std::string& body = {}) {
    uplink_.clear();
    rt_->handle(request_env(id, path, body));
    for (const auto& e : uplink_.sent())
      if (e.has_response() && e.response().id() == id) return e.response();
    ADD_FAILURE() << "no response for " << path;
    return {};
  }

  RecordingUplink uplink_;
  LambdaModule* module_ = nullptr;
  std::unique_ptr<host::ModuleRuntime> rt_;
};

TEST_F(RuntimeTest, DispatchesExactPaths) {
  start({"/t/a", "/t/b"});
  pb::Response r = call("/t/b", 42);
  EXPECT_EQ(r.id(), 42u);
  EXPECT_EQ(r.status(), 200u);
  EXPECT_EQ(r.body(), "/t/b\n");
}

TEST_F(RuntimeTest, WildcardFallbackPrefersTheLongest) {
  start({"/t/x/*", "/t/*", "/*", "/t/x/y"});
  EXPECT_EQ(call("/t/x/y").body(), "/t/x/y\n");
  EXPECT_EQ(call("/t/x/z").body(), "/t/x/*\n");
  EXPECT_EQ(call("/t/x/z/deeper").body(), "/t/x/*\n");  // /t/x/z/* is not registered
  EXPECT_EQ(call("/t/q").body(), "/t/*\n");
  EXPECT_EQ(call("/other").body(), "/*\n");
}

TEST_F(RuntimeTest, UnknownPathIs404) {
  start({"/t/a"});
  pb::Response r = call("/t/nope", 9);
  EXPECT_EQ(r.status(), 404u);
  EXPECT_EQ(r.id(), 9u);
}

TEST_F(RuntimeTest, HandlerExceptionBecomes500WithTheMessage) {
  start({});
  ASSERT_TRUE(rt_->register_path({.path = "/t/throw"}, [](const Message&) -> Response {
    throw std::runtime_error("kaputt");
  }));
  pb::Response r = call("/t/throw");
  EXPECT_EQ(r.status(), 500u);
  EXPECT_EQ(r.body(), "kaputt");
}

TEST_F(RuntimeTest, HandlerSeesTheRequest) {
  start({});
  Message seen;
  ASSERT_TRUE(rt_->register_path({.path = "/t/echo"}, [&](const Message& m) {
    seen = m;
    return respond(201, m.body);
  }));
  pb::Envelope env = request_env(5, "/t/echo", "body");
  auto* h = env.mutable_request()->add_headers();
  h->set_key("k");
  h->set_value("v");
  rt_->handle(env);
  EXPECT_EQ(seen.id, 5u);
  EXPECT_EQ(seen.header_or("k", ""), "v");
  EXPECT_EQ(seen.body, "body");
  EXPECT_EQ(uplink_.sent().back().response().status(), 201u);
}

TEST_F(RuntimeTest, RegistrationRules) {
  start({"/t/a"});
  EXPECT_EQ(rt_->register_path({.path = "/t/a"}, [](const Message&) { return Response{}; }).error().code, 409);
  EXPECT_FALSE(rt_->register_path({.path = "relative"}, [](const Message&) { return Response{}; }));
  EXPECT_FALSE(rt_->register_path({.path = "/a*"}, [](const Message&) { return Response{}; }));
  EXPECT_FALSE(rt_->register_path({.path = "/t/none"}, nullptr));
  EXPECT_FALSE(rt_->unregister_path("/t/never"));
}

TEST_F(RuntimeTest, HelloListsPathsAndLaterChangesGoOutOneByOne) {
  start({"/t/a", "/t/b"});
  EXPECT_TRUE(uplink_.sent().empty());  // paths of load() travel in hello()
  pb::Envelope hello = rt_->hello(1234);
  ASSERT_TRUE(hello.has_hello());
  EXPECT_EQ(hello.hello().module(), "t");
  EXPECT_EQ(hello.hello().version(), "1.2.3");
  EXPECT_EQ(hello.hello().generation(), 7u);
  EXPECT_EQ(hello.hello().pid(), 1234);
  EXPECT_EQ(hello.hello().api_major(), kApiMajor);
  EXPECT_EQ(hello.hello().paths_size(), 2);

  ASSERT_TRUE(rt_->register_path({.path = "/t/c", .labels = {"admin"}}, [](const Message&) { return Response{}; }));
  ASSERT_TRUE(rt_->unregister_path("/t/a"));
  auto sent = uplink_.sent();
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_TRUE(sent[0].has_register_path());
  EXPECT_EQ(sent[0].register_path().spec().path(), "/t/c");
  EXPECT_EQ(sent[0].register_path().spec().labels(0), "admin");
  ASSERT_TRUE(sent[1].has_unregister_path());
  EXPECT_EQ(sent[1].unregister_path().path(), "/t/a");
  EXPECT_EQ(call("/t/a").status(), 404u);
}

TEST_F(RuntimeTest, SyncSendRoundTripFromAHandler) {
  uplink_.on_send = [this](const pb::Envelope& e) {
    if (!e.has_request()) return;
    // Answer from another thread, as a router would.
    std::thread([this, e] { rt_->handle(response_env(e.request().id(), 202, "re:" + e.request().body())); }).detach();
  };
  start({});
  Response got;
  ASSERT_TRUE(rt_->register_path({.path = "/t/outer"}, [&](const Message&) {
    got = rt_->send(make_message(Method::call, "/other/path", "ping"));
    return respond(200, "done");
  }));
  rt_->handle(request_env(77, "/t/outer"));
  EXPECT_EQ(got.status, 202);
  EXPECT_EQ(got.body, "re:ping");
  pb::Envelope out = uplink_.wait_for([](const pb::Envelope& e) { return e.has_request(); });
  const pb::Message& req = out.request();
  EXPECT_EQ(req.path(), "/other/path");
  EXPECT_EQ(req.ctx().source_module(), "t");
  EXPECT_EQ(req.ctx().trace().parent_id(), 77u);
  EXPECT_EQ(req.ctx().trace().trace_id(), 1077u);
  EXPECT_NE(req.id(), 0u);
}

TEST_F(RuntimeTest, SendAnsweredInlineByTheUplink) {
  uplink_.on_send = [this](const pb::Envelope& e) {
    if (e.has_request()) rt_->handle(response_env(e.request().id(), 200, "inline"));
  };
  start({});
  EXPECT_EQ(rt_->send(make_message(Method::get, "/x")).body, "inline");
}

TEST_F(RuntimeTest, SendTimesOutWith504) {
  start({});
  Message m = make_message(Method::get, "/slow");
  m.timeout = 30ms;
  auto t0 = std::chrono::steady_clock::now();
  Response r = rt_->send(std::move(m));
  EXPECT_EQ(r.status, 504);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  // A late answer is ignored.
  pb::Envelope out = uplink_.wait_for([](const pb::Envelope& e) { return e.has_request(); });
  EXPECT_LE(out.request().timeout_ms(), 30u);
  rt_->handle(response_env(out.request().id(), 200, "late"));
}

TEST_F(RuntimeTest, CallTimeoutCapsTheMessageTimeout) {
  host::RuntimeOptions o = options();
  o.call_timeout = 20ms;
  start({}, o);
  Message m = make_message(Method::get, "/slow");
  m.timeout = 10s;
  EXPECT_EQ(rt_->send(std::move(m)).status, 504);
}

TEST_F(RuntimeTest, SyncSendFromTheEventLoopFailsAtOnce) {
  start({});
  std::promise<int> got;
  rt_->add_timer(1ms, [&] { got.set_value(rt_->send(make_message(Method::get, "/x")).status); }, false);
  EXPECT_EQ(got.get_future().get(), 500);
}

TEST_F(RuntimeTest, AttachFailsPendingCallsAndResendsHello) {
  start({"/t/a"});
  auto pending = std::async(std::launch::async, [&] { return rt_->send(make_message(Method::get, "/x")); });
  uplink_.wait_for([](const pb::Envelope& e) { return e.has_request(); });
  pb::Envelope attach;
  attach.mutable_attach()->set_router_epoch(2);
  rt_->handle(attach);
  Response r = pending.get();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "router restarted");
  pb::Envelope hello = uplink_.wait_for([](const pb::Envelope& e) { return e.has_hello(); });
  ASSERT_TRUE(hello.has_hello());
  EXPECT_EQ(hello.hello().pid(), ::getpid());
  EXPECT_EQ(hello.hello().paths_size(), 1);
}

TEST_F(RuntimeTest, UnknownResponseIdsAreIgnored) {
  start({});
  rt_->handle(response_env(999, 200, "nobody asked"));
  SUCCEED();
}

TEST_F(RuntimeTest, SendAsyncCallsBackOnTheEventLoop) {
  uplink_.on_send = [this](const pb::Envelope& e) {
    if (e.has_request()) rt_->handle(response_env(e.request().id(), 200, "async"));
  };
  start({});
  std::promise<std::pair<std::string, std::thread::id>> got;
  rt_->send_async(make_message(Method::get, "/x"),
                  [&](Response r) { got.set_value({r.body, std::this_thread::get_id()}); });
  auto [body, thread] = got.get_future().get();
  EXPECT_EQ(body, "async");
  EXPECT_NE(thread, std::this_thread::get_id());
}

TEST_F(RuntimeTest, SendAsyncTimesOut) {
  host::RuntimeOptions o = options();
  o.call_timeout = 20ms;
  start({}, o);
  std::promise<int> got;
  rt_->send_async(make_message(Method::get, "/x"), [&](Response r) { got.set_value(r.status); });
  EXPECT_EQ(got.get_future().get(), 504);
}

TEST_F(RuntimeTest, ConfigUpdateReplacesValuesAndNotifiesChangedKeys) {
  host::RuntimeOptions o = options();
  o.config = {{"same", "1"}, {"changes", "a"}, {"goes", "x"}};
  std::vector<std::string> changed;
  auto m = std::make_unique<LambdaModule>();
  m->on_config = [&](Core&, std::string_view key) { changed.emplace_back(key); };
  rt_ = std::make_unique<host::ModuleRuntime>(std::move(o), uplink_);
  ASSERT_TRUE(rt_->start(std::move(m)));
  EXPECT_EQ(rt_->config("changes"), "a");
  pb::Envelope env;
  auto& values = *env.mutable_config()->mutable_values();
  values["same"] = "1";
  values["changes"] = "b";
  values["new"] = "n";
  rt_->handle(env);
  std::sort(changed.begin(), changed.end());
  EXPECT_EQ(changed, (std::vector<std::string>{"changes", "goes", "new"}));
  EXPECT_EQ(rt_->config("changes"), "b");
  EXPECT_EQ(rt_->config("goes"), std::nullopt);
  EXPECT_EQ(rt_->config("new"), "n");
}

TEST_F(RuntimeTest, LoadErrorIsReturnedAndTheModuleUnloaded) {
  auto m = std::make_unique<LambdaModule>();
  bool unloaded = false;
  m->on_load = [](Core& core) -> Status {
    (void)core.register_path({.path = "/t/a"}, [](const Message&) { return Response{}; });
    return make_error(kFatalConfig, "never works");
  };
  m->on_unload = [&](Core&) { unloaded = true; };
  host::ModuleRuntime rt(options(), uplink_);
  Status s = rt.start(std::move(m));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kFatalConfig);
  EXPECT_TRUE(unloaded);
  EXPECT_EQ(rt.hello(1).hello().paths_size(), 0);
}

TEST_F(RuntimeTest, StopRemovesEverythingTheModuleRegistered) {
  start({"/t/a", "/t/b"});
  (void)rt_->hello(1);
  std::atomic<int> fired{0};
  rt_->add_timer(1ms, [&] { ++fired; });
  auto pending = std::async(std::launch::async, [&] { return rt_->send(make_message(Method::get, "/x")); });
  uplink_.wait_for([](const pb::Envelope& e) { return e.has_request(); });
  bool unloaded = false;
  module_->on_unload = [&](Core&) { unloaded = true; };
  rt_->stop();
  EXPECT_TRUE(unloaded);
  EXPECT_EQ(pending.get().status, 503);
  std::vector<std::string> unregistered;
  for (const auto& e : uplink_.sent())
    if (e.has_unregister_path()) unregistered.push_back(e.unregister_path().path());
  std::sort(unregistered.begin(), unregistered.end());
  EXPECT_EQ(unregistered, (std::vector<std::string>{"/t/a", "/t/b"}));
  int after_stop = fired.load();
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(fired.load(), after_stop);
  EXPECT_EQ(call("/t/a").status(), 503u);
  EXPECT_EQ(rt_->send(make_message(Method::get, "/x")).status, 503);
  rt_->stop();  // idempotent
}

// Asynchronous handlers (API minor 2): the handler returns at once and answers later from
// any thread; the request stays in flight until then; a dropped Reply answers 500.
TEST_F(RuntimeTest, AsyncHandlerAnswersLaterFromAnotherThread) {
  std::promise<Reply> parked;
  auto m = std::make_unique<LambdaModule>();
  module_ = m.get();
  m->on_load = [&](Core& core) {
    Status s = core.register_path_async({.path = "/t/later"}, [&](const Message&, Reply r) { parked.set_value(r); });
    if (!s) return s;
    s = core.register_path_async({.path = "/t/drop"}, [](const Message&, Reply) {});
    if (!s) return s;
    return core.register_path_async({.path = "/t/throw"}, [](const Message&, Reply) -> void {
      throw std::runtime_error("no");
    });
  };
  rt_ = std::make_unique<host::ModuleRuntime>(options(), uplink_);
  ASSERT_TRUE(rt_->start(std::move(m)));
  uplink_.clear();
  rt_->handle(request_env(5, "/t/later", ""));
  auto is_answer = [](std::uint64_t id) {
    return [id](const pb::Envelope& e) { return e.has_response() && e.response().id() == id; };
  };
  Reply reply = parked.get_future().get();
  EXPECT_FALSE(uplink_.wait_for(is_answer(5), 50ms).has_response());  // not answered yet
  EXPECT_EQ(rt_->in_flight(), 1u);
  std::thread([reply] { reply(respond(201, "done\n")); reply(respond(500, "twice")); }).join();
  pb::Envelope got = uplink_.wait_for(is_answer(5));
  EXPECT_EQ(got.response().status(), 201u);
  EXPECT_EQ(got.response().body(), "done\n");
  EXPECT_EQ(rt_->in_flight(), 0u);
  int answers = 0;
  for (const auto& e : uplink_.sent()) answers += is_answer(5)(e);
  EXPECT_EQ(answers, 1);  // the second call is ignored
  EXPECT_EQ(call("/t/drop", 6).status(), 500u);
  EXPECT_EQ(call("/t/throw", 7).status(), 500u);
  EXPECT_EQ(rt_->in_flight(), 0u);
}

TEST_F(RuntimeTest, AsyncReplyAfterStopGoesNowhere) {
  std::promise<Reply> parked;
  auto m = std::make_unique<LambdaModule>();
  module_ = m.get();
  m->on_load = [&](Core& core) {
    return core.register_path_async({.path = "/t/later"}, [&](const Message&, Reply r) { parked.set_value(r); });
  };
  rt_ = std::make_unique<host::ModuleRuntime>(options(), uplink_);
  ASSERT_TRUE(rt_->start(std::move(m)));
  rt_->handle(request_env(5, "/t/later", ""));
  Reply reply = parked.get_future().get();
  rt_->stop();  // waits its grace for the request, then closes the gate
  rt_.reset();
  uplink_.clear();
  reply(respond(200, "late"));
  EXPECT_TRUE(uplink_.sent().empty());
}

TEST_F(RuntimeTest, ConfigKeysAreSorted) {
  host::RuntimeOptions o = options();
  o.config = {{"peer:b.host", "x"}, {"name", "n"}, {"peer:a.port", "1"}};
  start({"/t/a"}, o);
  EXPECT_EQ(rt_->config_keys(), (std::vector<std::string>{"name", "peer:a.port", "peer:b.host"}));
}

}  // namespace
}  // namespace portal::test

// ModuleRuntime events: declared events, emit, subscriptions (own, for a client, traces),
// deliveries, router restarts, stop; and the conversions they travel through.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>

#include "host/convert.h"
#include "runtime_test_util.h"

namespace portal::test {
namespace {

using namespace std::chrono_literals;

// Collects what SubscribeDone callbacks got, with the thread they ran on.
class DoneLog {
 public:
  SubscribeDone callback() {
    return [this](Result<SubscriptionId> r) {
      std::lock_guard lock(mu_);
      results_.push_back(r.ok() ? Error{0, std::to_string(*r)} : r.error());
      threads_.push_back(std::this_thread::get_id());
    };
  }
  // {0, "<id>"} for a success, the error otherwise; waits for the n-th.
  Error at(std::size_t n) {
    EXPECT_TRUE(eventually([&] { return size() > n; })) << "no subscribe answer #" << n;
    std::lock_guard lock(mu_);
    return n < results_.size() ? results_[n] : Error{-1, "missing"};
  }
  std::thread::id thread(std::size_t n) {
    std::lock_guard lock(mu_);
    return threads_.at(n);
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return results_.size();
  }

 private:
  std::mutex mu_;
  std::vector<Error> results_;
  std::vector<std::thread::id> threads_;
};

// Records deliveries and the threads they ran on.
class EventLog {
 public:
  EventCallback callback() {
    return [this](const Event& ev) {
      std::lock_guard lock(mu_);
      events_.push_back(ev);
      threads_.push_back(std::this_thread::get_id());
    };
  }
  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return events_.size();
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
  std::vector<std::thread::id> threads_;
};

pb::Envelope delivery(SubscriptionId sid, const std::string& path, const std::string& body, std::uint64_t dropped = 0) {
  pb::Envelope env;
  pb::EventDelivery* d = env.mutable_event();
  d->set_subscription(sid);
  d->set_path(path);
  d->set_body(body);
  d->set_trace_id(77);
  d->set_dropped(dropped);
  return env;
}

std::string header_of(const pb::Message& m, const std::string& key) {
  for (const auto& h : m.headers())
    if (h.key() == key) return h.value();
  return "<none>";
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The router's side of subscribing: a Subscribe envelope or a SUB request is answered
    // at once with answer_status_.
    uplink_.on_send = [this](const pb::Envelope& e) {
      std::uint64_t id = 0;
      if (e.has_subscribe()) id = e.subscribe().id();
      if (e.has_request() && e.request().method() == pb::SUB) id = e.request().id();
      if (id == 0 || !answer_) return;
      int st = answer_status_.load();
      rt_->handle(response_env(id, st, st == 200 ? "" : "Subscribe denied\n"));
    };
  }
  void start(std::function<Status(Core&)> load = {}, std::map<std::string, std::string> config = {}) {
    host::RuntimeOptions o;
    o.module_name = "t";
    o.call_timeout = 5s;
    o.config = std::move(config);
    auto m = std::make_unique<LambdaModule>();
    if (load) m->on_load = std::move(load);
    module_ = m.get();
    rt_ = std::make_unique<host::ModuleRuntime>(std::move(o), uplink_);
    ASSERT_TRUE(rt_->start(std::move(m)));
  }
  // Started and announced: what follows goes to the router one envelope at a time.
  void start_announced() {
    start();
    rt_->announce(::getpid());
    uplink_.clear();
  }
  template <class Pred>
  std::vector<pb::Envelope> sent_where(Pred pred) {
    std::vector<pb::Envelope> out;
    for (const auto& e : uplink_.sent())
      if (pred(e)) out.push_back(e);
    return out;
  }
  std::vector<pb::Envelope> unsubscribes() {
    return sent_where([](const pb::Envelope& e) { return e.has_unsubscribe(); });
  }
  // Returns once the event loop ran everything posted to it before.
  void flush_loop() {
    std::promise<void> flushed;
    boost::asio::post(rt_->io(), [&] { flushed.set_value(); });
    ASSERT_EQ(flushed.get_future().wait_for(5s), std::future_status::ready);
  }

  RecordingUplink uplink_;
  std::atomic<bool> answer_{true};
  std::atomic<int> answer_status_{200};
  LambdaModule* module_ = nullptr;
  std::unique_ptr<host::ModuleRuntime> rt_;
  DoneLog done_;
  EventLog events_;
};

// --- declared events ---------------------------------------------------------------------------

TEST_F(EventsTest, EventsDeclaredBeforeTheHelloTravelInIt) {
  start([](Core& core) {
    return core.declare_event({.path = "/events/t/a", .description = "A happened", .labels = {"admin"}});
  });
  EXPECT_TRUE(uplink_.sent().empty());
  pb::Envelope hello = rt_->hello(1);
  ASSERT_EQ(hello.hello().events_size(), 1);
  EXPECT_EQ(hello.hello().events(0).path(), "/events/t/a");
  EXPECT_EQ(hello.hello().events(0).description(), "A happened");
  ASSERT_EQ(hello.hello().events(0).labels_size(), 1);
  EXPECT_EQ(hello.hello().events(0).labels(0), "admin");
}

TEST_F(EventsTest, EventsDeclaredAfterTheHelloGoOutOneByOne) {
  start_announced();
  ASSERT_TRUE(rt_->declare_event({.path = "/events/t/b", .description = "B"}));
  ASSERT_TRUE(rt_->undeclare_event("/events/t/b"));
  auto sent = uplink_.sent();
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_TRUE(sent[0].has_declare_event());
  EXPECT_EQ(sent[0].declare_event().spec().path(), "/events/t/b");
  EXPECT_EQ(sent[0].declare_event().spec().description(), "B");
  ASSERT_TRUE(sent[1].has_undeclare_event());
  EXPECT_EQ(sent[1].undeclare_event().path(), "/events/t/b");
}

TEST_F(EventsTest, DeclareRules) {
  start();
  EXPECT_EQ(rt_->declare_event({.path = "/t/not-an-event"}).error().code, 400);
  EXPECT_EQ(rt_->declare_event({.path = "/events/"}).error().code, 400);
  EXPECT_EQ(rt_->declare_event({.path = "/events/t/*"}).error().code, 400);
  EXPECT_EQ(rt_->declare_event({.path = "/events/t/a*b"}).error().code, 400);
  EXPECT_EQ(rt_->declare_event({.path = "events/t/a"}).error().code, 400);
  EXPECT_EQ(rt_->declare_event({.path = std::string("/events/t/\0x", 11)}).error().code, 400);
  EXPECT_EQ(rt_->declare_event({.path = "/events/" + std::string(1020, 'x')}).error().code, 400);
  ASSERT_TRUE(rt_->declare_event({.path = "/events/t/a"}));
  EXPECT_EQ(rt_->declare_event({.path = "/events/t/a"}).error().code, 409);
  EXPECT_EQ(rt_->undeclare_event("/events/t/never").error().code, 404);
}

// --- emit ------------------------------------------------------------------------------------------

TEST_F(EventsTest, EmitSendsAnEventRequest) {
  start_announced();
  rt_->emit("/events/t/a", "payload");
  auto sent = sent_where([](const pb::Envelope& e) { return e.has_request(); });
  ASSERT_EQ(sent.size(), 1u);
  const pb::Message& m = sent[0].request();
  EXPECT_EQ(m.method(), pb::EVENT);
  EXPECT_EQ(m.path(), "/events/t/a");
  EXPECT_EQ(m.body(), "payload");
  EXPECT_EQ(m.ctx().source_module(), "t");
  EXPECT_NE(m.id(), 0u);
  // A refusal only reaches the log; nothing else happens.
  rt_->handle(response_env(m.id(), 403, "Not your event\n"));
}

TEST_F(EventsTest, EmitFromTheEventLoopDoesNotWait) {
  start_announced();
  std::promise<void> emitted;
  rt_->add_timer(1ms, [&] {
    rt_->emit("/events/t/from-loop");
    emitted.set_value();
  }, false);
  ASSERT_EQ(emitted.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(sent_where([](const pb::Envelope& e) { return e.has_request(); }).size(), 1u);
}

TEST_F(EventsTest, EmitInsideAHandlerNamesItAsTraceParent) {
  start_announced();
  ASSERT_TRUE(rt_->register_path({.path = "/t/fire"}, [this](const Message&) {
    rt_->emit("/events/t/fired");
    return respond(200);
  }));
  rt_->handle(request_env(9, "/t/fire"));
  auto sent = sent_where([](const pb::Envelope& e) { return e.has_request() && e.request().method() == pb::EVENT; });
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].request().ctx().trace().parent_id(), 9u);
}

// --- subscribing -------------------------------------------------------------------------------------

TEST_F(EventsTest, SubscribeSendsAnEnvelopeAndDoneGetsTheId) {
  start_announced();
  rt_->subscribe("/events/x/*", events_.callback(), done_.callback());
  auto subs = sent_where([](const pb::Envelope& e) { return e.has_subscribe(); });
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].subscribe().subscription(), 1u);
  EXPECT_EQ(subs[0].subscribe().pattern(), "/events/x/*");
  EXPECT_NE(subs[0].subscribe().id(), 0u);
  EXPECT_EQ(done_.at(0).code, 0);
  EXPECT_EQ(done_.at(0).message, "1");
  EXPECT_NE(done_.thread(0), std::this_thread::get_id());  // on the event loop

  rt_->subscribe("*", events_.callback(), done_.callback());
  EXPECT_EQ(done_.at(1).message, "2");  // ids count up per runtime
}

TEST_F(EventsTest, RefusedSubscribeReportsTheErrorAndForgetsTheEntry) {
  start_announced();
  answer_status_ = 403;
  rt_->subscribe("/events/x", events_.callback(), done_.callback());
  Error e = done_.at(0);
  EXPECT_EQ(e.code, 403);
  EXPECT_EQ(e.message, "Subscribe denied");
  EXPECT_FALSE(rt_->unsubscribe(1));  // already gone
  EXPECT_TRUE(unsubscribes().empty());  // the router holds nothing to forget
}

TEST_F(EventsTest, UnansweredSubscribeTimesOutAndTellsTheRouterToForgetIt) {
  answer_ = false;
  host::RuntimeOptions o;
  o.module_name = "t";
  o.call_timeout = 20ms;
  rt_ = std::make_unique<host::ModuleRuntime>(std::move(o), uplink_);
  ASSERT_TRUE(rt_->start(std::make_unique<LambdaModule>()));
  rt_->announce(1);
  rt_->subscribe("/events/x", events_.callback(), done_.callback());
  EXPECT_EQ(done_.at(0).code, 504);
  ASSERT_EQ(unsubscribes().size(), 1u);  // its answer may still come: the router forgets it
  EXPECT_EQ(unsubscribes()[0].unsubscribe().subscription(), 1u);
}

TEST_F(EventsTest, PatternRulesAreCheckedLocally) {
  start_announced();
  rt_->subscribe("relative", events_.callback(), done_.callback());
  rt_->subscribe(std::string("/a\0b", 4), events_.callback(), done_.callback());
  rt_->subscribe("/" + std::string(1024, 'x'), events_.callback(), done_.callback());
  rt_->subscribe("/events/x", nullptr, done_.callback());
  rt_->subscribe_as("**", {}, events_.callback(), done_.callback());
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(done_.at(i).code, 400) << i;
  EXPECT_TRUE(sent_where([](const pb::Envelope& e) { return e.has_subscribe() || e.has_request(); }).empty());
}

TEST_F(EventsTest, SubscribeAsIsASubRequestWithTheClientsCredentials) {
  start_announced();
  rt_->subscribe_as("*", {.api_key = "key1"}, events_.callback(), done_.callback());
  rt_->subscribe_as("/events/x/y", {.username = "bob", .password = "pw"}, events_.callback(), done_.callback());
  auto reqs = sent_where([](const pb::Envelope& e) { return e.has_request(); });
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].request().method(), pb::SUB);
  EXPECT_EQ(reqs[0].request().path(), "/events/*");  // "*" travels as a path
  EXPECT_EQ(header_of(reqs[0].request(), "subscription"), "1");
  EXPECT_EQ(reqs[0].request().ctx().credentials().api_key(), "key1");
  EXPECT_EQ(reqs[1].request().path(), "/events/x/y");
  EXPECT_EQ(header_of(reqs[1].request(), "subscription"), "2");
  EXPECT_EQ(reqs[1].request().ctx().credentials().username(), "bob");
  EXPECT_EQ(done_.at(0).message, "1");
  EXPECT_EQ(done_.at(1).message, "2");

  answer_status_ = 403;
  rt_->subscribe_as("/events/secret", {.api_key = "weak"}, events_.callback(), done_.callback());
  EXPECT_EQ(done_.at(2).code, 403);
}

TEST_F(EventsTest, TraceIsASubRequestForCoreTrace) {
  start_announced();
  rt_->trace("/hello", true, {.token = "tok"}, events_.callback(), done_.callback());
  rt_->trace("", false, {.token = "tok"}, events_.callback(), done_.callback());
  auto reqs = sent_where([](const pb::Envelope& e) { return e.has_request(); });
  ASSERT_EQ(reqs.size(), 2u);
  const pb::Message& m = reqs[0].request();
  EXPECT_EQ(m.method(), pb::SUB);
  EXPECT_EQ(m.path(), "/core/trace");
  EXPECT_EQ(header_of(m, "subscription"), "1");
  EXPECT_EQ(header_of(m, "filter"), "/hello");
  EXPECT_EQ(header_of(m, "debug"), "1");
  EXPECT_EQ(m.ctx().credentials().token(), "tok");
  EXPECT_EQ(header_of(reqs[1].request(), "debug"), "0");
  EXPECT_EQ(done_.at(0).message, "1");

  // Trace lines arrive like events.
  rt_->handle(delivery(1, "/core/trace", "→ #1 [GET] ...\n"));
  ASSERT_TRUE(eventually([&] { return events_.size() == 1; }));
  EXPECT_EQ(events_.events()[0].path, "/core/trace");
}

TEST_F(EventsTest, SubscriptionsMadeBeforeTheHelloFollowIt) {
  start([this](Core& core) {
    core.subscribe("/events/early", events_.callback(), done_.callback());
    return Status{};
  });
  EXPECT_TRUE(uplink_.sent().empty());  // the router does not know the module yet
  EXPECT_EQ(done_.size(), 0u);
  rt_->announce(::getpid());
  auto sent = uplink_.sent();
  ASSERT_GE(sent.size(), 2u);
  EXPECT_TRUE(sent[0].has_hello());
  ASSERT_TRUE(sent[1].has_subscribe());
  EXPECT_EQ(sent[1].subscribe().pattern(), "/events/early");
  EXPECT_EQ(done_.at(0).message, "1");
}

// --- deliveries ---------------------------------------------------------------------------------------

TEST_F(EventsTest, DeliveriesRunOnTheEventLoopInOrder) {
  start_announced();
  rt_->subscribe("/events/x/*", events_.callback(), done_.callback());
  ASSERT_EQ(done_.at(0).code, 0);
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) rt_->handle(delivery(1, "/events/x/n", std::to_string(i), i == 3 ? 9 : 0));
  ASSERT_TRUE(eventually([&] { return events_.size() == kCount; }));
  auto got = events_.events();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(got[i].body, std::to_string(i));
  EXPECT_EQ(got[0].subscription, 1u);
  EXPECT_EQ(got[0].path, "/events/x/n");
  EXPECT_EQ(got[0].trace_id, 77u);
  EXPECT_EQ(got[3].dropped, 9u);
  for (std::thread::id t : events_.threads()) EXPECT_EQ(t, done_.thread(0));  // the event loop
}

TEST_F(EventsTest, UnknownSubscriptionIsUnsubscribedOnce) {
  start_announced();
  rt_->handle(delivery(42, "/events/x", "a"));
  rt_->handle(delivery(42, "/events/x", "b"));  // still in flight: no second Unsubscribe
  auto unsubs = unsubscribes();
  ASSERT_EQ(unsubs.size(), 1u);
  EXPECT_EQ(unsubs[0].unsubscribe().subscription(), 42u);
}

TEST_F(EventsTest, UnsubscribeEndsDeliveries) {
  start_announced();
  rt_->subscribe("*", events_.callback(), done_.callback());
  ASSERT_EQ(done_.at(0).code, 0);
  EXPECT_TRUE(rt_->unsubscribe(1));
  EXPECT_FALSE(rt_->unsubscribe(1));
  EXPECT_FALSE(rt_->unsubscribe(999));
  auto unsubs = unsubscribes();
  ASSERT_EQ(unsubs.size(), 1u);
  EXPECT_EQ(unsubs[0].unsubscribe().subscription(), 1u);
  rt_->handle(delivery(1, "/events/late", "x"));  // in flight when it ended
  EXPECT_EQ(unsubscribes().size(), 1u);
  flush_loop();
  EXPECT_EQ(events_.size(), 0u);
}

TEST_F(EventsTest, AThrowingCallbackDoesNotStopLaterDeliveries) {
  start_announced();
  std::atomic<int> calls{0};
  rt_->subscribe("*", [&](const Event&) {
    if (++calls == 1) throw std::runtime_error("first one throws");
  });
  rt_->handle(delivery(1, "/events/a", ""));
  rt_->handle(delivery(1, "/events/b", ""));
  EXPECT_TRUE(eventually([&] { return calls.load() == 2; }));
}

// --- router restarts, config, stop ----------------------------------------------------------------

TEST_F(EventsTest, AttachReissuesEverySubscriptionWithItsId) {
  start_announced();
  ASSERT_TRUE(rt_->declare_event({.path = "/events/t/a"}));
  rt_->subscribe("/events/x/*", events_.callback(), done_.callback());
  rt_->subscribe_as("/events/y", {.api_key = "k"}, events_.callback(), done_.callback());
  rt_->trace("/z", false, {.token = "admin"}, events_.callback(), done_.callback());
  ASSERT_EQ(done_.at(2).code, 0);
  uplink_.clear();

  pb::Envelope attach;
  attach.mutable_attach()->set_router_epoch(2);
  rt_->handle(attach);
  auto sent = uplink_.sent();
  ASSERT_EQ(sent.size(), 4u);
  ASSERT_TRUE(sent[0].has_hello());
  ASSERT_EQ(sent[0].hello().events_size(), 1);
  EXPECT_EQ(sent[0].hello().events(0).path(), "/events/t/a");
  ASSERT_TRUE(sent[1].has_subscribe());
  EXPECT_EQ(sent[1].subscribe().subscription(), 1u);
  EXPECT_EQ(sent[1].subscribe().pattern(), "/events/x/*");
  ASSERT_TRUE(sent[2].has_request());
  EXPECT_EQ(sent[2].request().path(), "/events/y");
  EXPECT_EQ(header_of(sent[2].request(), "subscription"), "2");
  EXPECT_EQ(sent[2].request().ctx().credentials().api_key(), "k");
  ASSERT_TRUE(sent[3].has_request());
  EXPECT_EQ(sent[3].request().path(), "/core/trace");
  EXPECT_EQ(header_of(sent[3].request(), "subscription"), "3");
  EXPECT_EQ(header_of(sent[3].request(), "filter"), "/z");

  flush_loop();  // the re-issues' answers ran
  EXPECT_EQ(done_.size(), 3u);  // and never call done again
  rt_->handle(delivery(2, "/events/y", "still"));
  EXPECT_TRUE(eventually([&] { return events_.size() == 1; }));
}

TEST_F(EventsTest, ARefusedReissueEndsTheSubscription) {
  start_announced();
  rt_->subscribe_as("/events/y", {.api_key = "revoked-soon"}, events_.callback(), done_.callback());
  ASSERT_EQ(done_.at(0).code, 0);
  answer_status_ = 403;
  pb::Envelope attach;
  attach.mutable_attach();
  rt_->handle(attach);
  flush_loop();  // the refusal ran: only logged, and the subscription is gone
  EXPECT_FALSE(rt_->unsubscribe(1));
  EXPECT_EQ(done_.size(), 1u);
}

TEST_F(EventsTest, MergedConfigUpdateChangesOnlyTheGivenKeys) {
  std::vector<std::string> changed;
  start({}, {{"keep", "1"}, {"change", "a"}});
  module_->on_config = [&](Core&, std::string_view key) { changed.emplace_back(key); };
  pb::Envelope env;
  env.mutable_config()->set_merge(true);
  (*env.mutable_config()->mutable_values())["change"] = "b";
  (*env.mutable_config()->mutable_values())["new"] = "n";
  rt_->handle(env);
  std::sort(changed.begin(), changed.end());
  EXPECT_EQ(changed, (std::vector<std::string>{"change", "new"}));
  EXPECT_EQ(rt_->config("keep"), "1");
  EXPECT_EQ(rt_->config("change"), "b");
  EXPECT_EQ(rt_->config("new"), "n");

  changed.clear();
  rt_->handle(env);  // the same values again: nothing changed
  EXPECT_TRUE(changed.empty());
}

TEST_F(EventsTest, StopUndeclaresAndUnsubscribes) {
  start_announced();
  ASSERT_TRUE(rt_->declare_event({.path = "/events/t/a"}));
  ASSERT_TRUE(rt_->declare_event({.path = "/events/t/b"}));
  rt_->subscribe("*", events_.callback(), done_.callback());
  rt_->trace("", false, {}, events_.callback(), done_.callback());
  ASSERT_EQ(done_.at(1).code, 0);
  uplink_.clear();
  rt_->stop();
  std::vector<std::string> undeclared;
  for (const auto& e : uplink_.sent())
    if (e.has_undeclare_event()) undeclared.push_back(e.undeclare_event().path());
  EXPECT_EQ(undeclared, (std::vector<std::string>{"/events/t/a", "/events/t/b"}));
  std::vector<std::uint64_t> ended;
  for (const auto& e : unsubscribes()) ended.push_back(e.unsubscribe().subscription());
  EXPECT_EQ(ended, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(rt_->declare_event({.path = "/events/t/c"}).error().code, 503);
  rt_->handle(delivery(1, "/events/x", ""));  // after stop: dropped quietly
  EXPECT_EQ(unsubscribes().size(), 2u);
}

TEST_F(EventsTest, StopBeforeTheHelloSendsNothing) {
  start([this](Core& core) {
    core.subscribe("*", events_.callback());
    return core.declare_event({.path = "/events/t/a"});
  });
  rt_->stop();
  EXPECT_TRUE(uplink_.sent().empty());
}

// --- conversions ----------------------------------------------------------------------------------

TEST(EventsConvert, AssertedIdentityRoundTrips) {
  Message m = make_message(Method::call, "/x");
  m.ctx.asserted.user = "remote-alice";
  m.ctx.asserted.labels = {"admin"};
  m.ctx.asserted.asserted_by = "federation";
  pb::Message p;
  host::to_pb(m, p);
  EXPECT_EQ(p.ctx().asserted().user(), "remote-alice");
  EXPECT_FALSE(p.ctx().has_auth());
  Message back = host::from_pb(p);
  EXPECT_EQ(back.ctx.asserted.user, "remote-alice");
  EXPECT_EQ(back.ctx.asserted.labels, (std::vector<std::string>{"admin"}));
  EXPECT_EQ(back.ctx.asserted.asserted_by, "federation");

  pb::Message from_router;
  from_router.mutable_ctx()->mutable_auth()->set_user("alice");
  from_router.mutable_ctx()->mutable_auth()->set_asserted_by("federation");
  EXPECT_EQ(host::from_pb(from_router).ctx.auth.asserted_by, "federation");
  EXPECT_TRUE(host::from_pb(from_router).ctx.asserted.user.empty());
}

TEST(EventsConvert, EventSpecRoundTrips) {
  EventSpec spec{"/events/a/b", "Something", {"admin", "ops"}};
  pb::EventSpec p;
  host::to_pb(spec, p);
  EventSpec back = host::from_pb(p);
  EXPECT_EQ(back.path, spec.path);
  EXPECT_EQ(back.description, spec.description);
  EXPECT_EQ(back.labels, spec.labels);
}

}  // namespace
}  // namespace portal::test

// The stub router's events: declared events, what the module emits, subscriptions and the
// test's deliveries.
#include <gtest/gtest.h>

#include "testing/stub_router.h"

namespace portal::testing {
namespace {

class EventModule final : public Module {
 public:
  std::function<Status(Core&)> on_load = [](Core&) { return Status{}; };
  std::function<void(Core&)> on_unload = [](Core&) {};
  Status load(Core& core) override { return on_load(core); }
  void unload(Core& core) override { on_unload(core); }
};

// Loads a module whose load() runs `fn`, keeps the Core it got.
class StubEvents : public ::testing::Test {
 protected:
  void load(std::function<Status(Core&)> fn = {}) {
    auto m = std::make_unique<EventModule>();
    m->on_load = [this, fn](Core& core) {
      core_ = &core;
      return fn ? fn(core) : Status{};
    };
    module_ = m.get();
    ASSERT_TRUE(stub_.load(std::move(m)));
  }
  EventCallback record() {
    return [this](const Event& ev) { seen_.push_back(ev); };
  }
  SubscribeDone remember() {
    return [this](Result<SubscriptionId> r) { done_.push_back(r.ok() ? static_cast<int>(*r) : -r.error().code); };
  }

  StubRouter stub_{"ev"};
  Core* core_ = nullptr;
  EventModule* module_ = nullptr;
  std::vector<Event> seen_;
  std::vector<int> done_;  // ids, or minus the error code
};

TEST_F(StubEvents, DeclaredEventsAreListedAndFollowTheRules) {
  load([](Core& core) { return core.declare_event({.path = "/events/ev/b", .labels = {"admin"}}); });
  ASSERT_TRUE(core_->declare_event({.path = "/events/ev/a", .description = "A"}));
  EXPECT_EQ(core_->declare_event({.path = "/events/ev/a"}).error().code, 409);
  EXPECT_EQ(core_->declare_event({.path = "/ev/not-an-event"}).error().code, 400);
  EXPECT_EQ(core_->declare_event({.path = "/events/ev/*"}).error().code, 400);
  auto events = stub_.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].path, "/events/ev/a");
  EXPECT_EQ(events[0].description, "A");
  EXPECT_EQ(events[1].labels, std::vector<std::string>{"admin"});
  ASSERT_TRUE(core_->undeclare_event("/events/ev/a"));
  EXPECT_EQ(core_->undeclare_event("/events/ev/a").error().code, 404);
  EXPECT_EQ(stub_.events().size(), 1u);
}

// The row filter of COMPAT.md 1.5, with the audited sys.see_all bypass.
TEST_F(StubEvents, LabelsAllowIsTheRowFilterAndAuditsTheBypass) {
  load();
  Identity root{"root", {}, {}}, anon{}, staff{"bob", {"staff"}, {}}, seer{"eve", {"sys.see_all"}, {}};
  EXPECT_TRUE(core_->labels_allow(root, {"admin"}));
  EXPECT_TRUE(core_->labels_allow(anon, {}));
  EXPECT_FALSE(core_->labels_allow(anon, {"admin"}));
  EXPECT_TRUE(core_->labels_allow(staff, {"ops", "staff"}));
  EXPECT_FALSE(core_->labels_allow(staff, {"admin"}));
  EXPECT_TRUE(stub_.emitted().empty()) << "no audit without a bypass";
  EXPECT_TRUE(core_->labels_allow(seer, {"admin"}));
  auto emitted = stub_.emitted();
  ASSERT_EQ(emitted.size(), 1u);
  EXPECT_EQ(emitted[0].path, "/events/acl/bypass");
  EXPECT_EQ(emitted[0].body, "user=eve\n");
}

TEST_F(StubEvents, EmitRecordsWhatTheRouterWouldAccept) {
  load([](Core& core) {
    EXPECT_EQ(core.declare_event({.path = "/events/shared/thing"}).error().code, 403);  // not under its name
    return core.declare_event({.path = "/events/ev/thing"});
  });
  core_->emit("/events/ev/anything", "one");   // under /events/<name>/
  core_->emit("/events/ev/thing", "two");      // declared
  core_->emit("/events/other/thing", "three"); // neither: 403
  core_->emit("relative");                     // 400
  auto emitted = stub_.emitted();
  ASSERT_EQ(emitted.size(), 2u);
  EXPECT_EQ(emitted[0].path, "/events/ev/anything");
  EXPECT_EQ(emitted[0].body, "one");
  EXPECT_EQ(emitted[1].path, "/events/ev/thing");
  EXPECT_TRUE(stub_.logged("emit /events/other/thing refused: 403"));
  EXPECT_TRUE(stub_.logged("emit relative refused: 400"));
  stub_.clear_emitted();
  EXPECT_TRUE(stub_.emitted().empty());
}

TEST_F(StubEvents, SubscribeAnswersOnTheLoopAndDeliverEventMatchesPatterns) {
  load();
  core_->subscribe("/events/a/x", record(), remember());
  core_->subscribe("/events/a/*", record(), remember());
  core_->subscribe("*", record(), remember());
  EXPECT_TRUE(done_.empty());  // done runs on io()
  stub_.poll();
  EXPECT_EQ(done_, (std::vector<int>{1, 2, 3}));

  EXPECT_EQ(stub_.deliver_event("/events/a/x", "body", 4), 3u);
  ASSERT_EQ(seen_.size(), 3u);  // ran at once: deliver_event polls
  EXPECT_EQ(seen_[0].subscription, 1u);
  EXPECT_EQ(seen_[0].path, "/events/a/x");
  EXPECT_EQ(seen_[0].body, "body");
  EXPECT_EQ(seen_[0].dropped, 4u);
  EXPECT_EQ(stub_.deliver_event("/events/a/x/deeper"), 2u);
  EXPECT_EQ(stub_.deliver_event("/events/ab"), 1u);  // "/events/a/*" needs the slash
  EXPECT_EQ(stub_.deliver_event("/elsewhere"), 1u);
}

TEST_F(StubEvents, EmittedEventsReachTheModulesOwnSubscriptions) {
  load();
  core_->subscribe("/events/ev/*", record());
  core_->emit("/events/ev/tick", "t");
  EXPECT_TRUE(seen_.empty());
  stub_.poll();
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].body, "t");
}

TEST_F(StubEvents, BadPatternsAreRefused) {
  load();
  core_->subscribe("relative", record(), remember());
  core_->subscribe("/ok", nullptr, remember());
  stub_.poll();
  EXPECT_EQ(done_, (std::vector<int>{-400, -400}));
  EXPECT_TRUE(stub_.subscriptions().empty());
}

TEST_F(StubEvents, ClientSubscriptionsAndTracesCanBeRefused) {
  load();
  core_->subscribe_as("/events/x", {.api_key = "k"}, record(), remember());
  core_->trace("/hello", true, {.token = "t"}, record(), remember());
  stub_.poll();
  EXPECT_EQ(done_, (std::vector<int>{1, 2}));
  auto subs = stub_.subscriptions();
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].kind, StubSubscription::Kind::as);
  EXPECT_EQ(subs[0].credentials.api_key, "k");
  EXPECT_EQ(subs[1].kind, StubSubscription::Kind::trace);
  EXPECT_EQ(subs[1].pattern, "/hello");
  EXPECT_TRUE(subs[1].debug);

  EXPECT_EQ(stub_.deliver_trace("→ #1 [GET] ...\n"), 1u);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].path, "/core/trace");

  stub_.refuse_subscriptions(status::forbidden);
  core_->subscribe_as("/events/x", {}, record(), [&](Result<SubscriptionId> r) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, 403);
    EXPECT_EQ(r.error().message, "Subscribe denied");
  });
  core_->subscribe("/events/x", record(), remember());  // the module's own: never refused
  stub_.poll();
  EXPECT_EQ(done_.back(), 3);
}

TEST_F(StubEvents, UnsubscribeStopsDeliveriesEvenQueuedOnes) {
  load();
  core_->subscribe("*", [this](const Event& ev) {
    seen_.push_back(ev);
    core_->unsubscribe(ev.subscription);  // the second delivery is already queued
  });
  core_->emit("/events/ev/1");
  core_->emit("/events/ev/2");
  stub_.poll();
  EXPECT_EQ(seen_.size(), 1u);
  EXPECT_FALSE(core_->unsubscribe(1));
  EXPECT_EQ(stub_.deliver_event("/events/ev/3"), 0u);
}

TEST_F(StubEvents, ThrowingCallbacksAreLogged) {
  load();
  core_->subscribe("*", [](const Event&) { throw std::runtime_error("nope"); });
  EXPECT_EQ(stub_.deliver_event("/events/x"), 1u);
  EXPECT_TRUE(stub_.logged("an event callback threw: nope"));
}

TEST_F(StubEvents, LeftoversIncludeEventsAndSubscriptions) {
  load([this](Core& core) {
    (void)core.declare_event({.path = "/events/ev/kept"});
    (void)core.declare_event({.path = "/events/ev/removed"});
    core.subscribe("*", record());
    core.trace("", false, {}, record(), {});
    return Status{};
  });
  module_->on_unload = [](Core& core) {
    (void)core.undeclare_event("/events/ev/removed");
    core.unsubscribe(2);
  };
  ASSERT_TRUE(stub_.unload());
  EXPECT_EQ(stub_.leftovers().events, std::vector<std::string>{"/events/ev/kept"});
  EXPECT_EQ(stub_.leftovers().subscriptions, 1u);
  EXPECT_FALSE(stub_.leftovers().empty());
  EXPECT_TRUE(stub_.events().empty());
  EXPECT_TRUE(stub_.subscriptions().empty());
}

}  // namespace
}  // namespace portal::testing

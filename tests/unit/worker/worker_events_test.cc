// Events through a real portal-worker: declared events in the hello, the module's own
// subscription right after it, deliveries from several reading threads, emit.
#include <gtest/gtest.h>

#include "worker_harness.h"

namespace portal::test {
namespace {

using namespace std::chrono_literals;

pb::Envelope delivery(std::uint64_t sid, std::uint64_t n) {
  pb::Envelope env;
  pb::EventDelivery* d = env.mutable_event();
  d->set_subscription(sid);
  d->set_path("/events/elsewhere/tick");
  d->set_body(std::to_string(n));
  d->set_dropped(1);
  return env;
}

pb::Envelope ok(std::uint64_t id) {
  pb::Envelope env;
  env.mutable_response()->set_id(id);
  env.mutable_response()->set_status(200);
  return env;
}

// Asks crashy what its subscription saw until it says `expected`.
bool eventually_seen(WorkerProcess& w, const std::string& expected) {
  auto until = std::chrono::steady_clock::now() + 10s;
  for (std::uint64_t id = 1000; std::chrono::steady_clock::now() < until; ++id) {
    w.send(request(id, "/crashy/resources/events"));
    auto resp = w.receive_until([id](const pb::Envelope& e) { return is_response(e, id); });
    if (!resp) return false;
    if (resp->response().body() == expected) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

TEST(WorkerEvents, SubscriptionFollowsTheHelloAndDeliveriesArrive) {
  WorkerProcess w({.module = "crashy", .config = {{"subscribe", "/events/*"}}, .threads = 4});
  auto hello = w.receive();
  ASSERT_TRUE(hello && hello->has_hello());
  ASSERT_EQ(hello->hello().events_size(), 2);
  EXPECT_EQ(hello->hello().events(0).path(), "/events/crashy/ping");
  auto sub = w.receive();
  ASSERT_TRUE(sub && sub->has_subscribe()) << "the subscription made in load() follows the hello";
  EXPECT_EQ(sub->subscribe().pattern(), "/events/*");
  std::uint64_t sid = sub->subscribe().subscription();
  w.send(ok(sub->subscribe().id()));
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) w.send(delivery(sid, i));
  EXPECT_TRUE(eventually_seen(w, "seen=300 dropped=300\n"));
}

TEST(WorkerEvents, DeliveryForAnUnknownSubscriptionIsUnsubscribed) {
  WorkerProcess w({.module = "crashy"});
  ASSERT_TRUE(w.receive());  // hello
  w.send(delivery(77, 1));
  auto unsub = w.receive_until([](const pb::Envelope& e) { return e.has_unsubscribe(); });
  ASSERT_TRUE(unsub);
  EXPECT_EQ(unsub->unsubscribe().subscription(), 77u);
}

TEST(WorkerEvents, EmitSendsEventRequests) {
  WorkerProcess w({.module = "crashy"});
  ASSERT_TRUE(w.receive());  // hello
  w.send(request(1, "/crashy/functions/emit", "body", {{"path", "/events/crashy/ping"}, {"count", "2"}}));
  int events = 0;
  bool answered = false;
  while (events < 2 || !answered) {
    auto env = w.receive();
    ASSERT_TRUE(env) << events << " events, answered " << answered;
    if (is_response(*env, 1)) {
      answered = true;
      EXPECT_EQ(env->response().body(), "emitted 2\n");
    } else if (env->has_request()) {
      EXPECT_EQ(env->request().method(), pb::EVENT);
      EXPECT_EQ(env->request().path(), "/events/crashy/ping");
      EXPECT_EQ(env->request().body(), "body");
      EXPECT_EQ(env->request().ctx().source_module(), "crashy");
      w.send(ok(env->request().id()));
      ++events;
    }
  }
}

TEST(WorkerEvents, AttachReissuesTheSubscription) {
  WorkerProcess w({.module = "crashy", .config = {{"subscribe", "*"}}});
  ASSERT_TRUE(w.receive());  // hello
  auto sub = w.receive_until([](const pb::Envelope& e) { return e.has_subscribe(); });
  ASSERT_TRUE(sub);
  w.send(ok(sub->subscribe().id()));
  pb::Envelope attach;
  attach.mutable_attach()->set_router_epoch(2);
  w.send(attach);
  auto hello = w.receive_until([](const pb::Envelope& e) { return e.has_hello(); });
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->hello().events_size(), 2);
  auto again = w.receive_until([](const pb::Envelope& e) { return e.has_subscribe(); });
  ASSERT_TRUE(again);
  EXPECT_EQ(again->subscribe().subscription(), sub->subscribe().subscription());
  EXPECT_EQ(again->subscribe().pattern(), "*");
}

}  // namespace
}  // namespace portal::test

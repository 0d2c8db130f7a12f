// Server-sent events: GET /api/events/<pattern> with Accept: text/event-stream.
#include <gtest/gtest.h>

#include "web_fixture.h"

namespace portal::web::test {
namespace {

std::string sse_request(const std::string& target, const std::string& extra = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n" + extra + "\r\n";
}

TEST_F(WebTest, EventsStreamToTheClientUntilItLeaves) {
  ASSERT_TRUE(load());
  Client c(port_);
  ASSERT_TRUE(c.connected());
  std::optional<std::string> head = run([&] {
    c.send(sse_request("/api/events/myapp/*", "X-API-Key: k9\r\n"));
    return c.read_until("\r\n\r\n");
  });
  ASSERT_TRUE(head);
  EXPECT_EQ(head->rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << *head;
  EXPECT_NE(head->find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(head->find("Cache-Control: no-cache\r\n"), std::string::npos);

  std::vector<testing::StubSubscription> subs = stub_.subscriptions();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].kind, testing::StubSubscription::Kind::as);
  EXPECT_EQ(subs[0].pattern, "/events/myapp/*");
  EXPECT_EQ(subs[0].credentials.api_key, "k9");
  EXPECT_EQ(subs[0].credentials.source, "127.0.0.1");

  EXPECT_EQ(stub_.deliver_event("/events/myapp/tick", "line one\nline two\n"), 1u);
  EXPECT_EQ(stub_.deliver_event("/events/other/x", "not for us"), 0u);
  EXPECT_EQ(stub_.deliver_event("/events/myapp/tock", "3"), 1u);
  std::optional<std::string> events = run([&] {
    std::optional<std::string> a = c.read_until("\n\n");
    std::optional<std::string> b = c.read_until("\n\n");
    return a && b ? std::optional<std::string>(*a + *b) : std::nullopt;
  });
  ASSERT_TRUE(events);
  EXPECT_NE(events->find("event: /events/myapp/tick\ndata: line one\ndata: line two\n\n"), std::string::npos)
      << *events;
  EXPECT_NE(events->find("event: /events/myapp/tock\ndata: 3\n\n"), std::string::npos) << *events;
  EXPECT_EQ(events->find("not for us"), std::string::npos);

  c.close();
  EXPECT_TRUE(pump_until([&] { return stub_.subscriptions().empty(); })) << "unsubscribed when the client left";
  EXPECT_TRUE(pump_until([&] { return status().find("Connections: 0\n") != std::string::npos; }));
}

TEST_F(WebTest, BareEventsPathSubscribesToEverything) {
  ASSERT_TRUE(load());
  Client c(port_);
  ASSERT_TRUE(run([&] {
    c.send(sse_request("/api/events"));
    return c.read_until("\r\n\r\n").has_value();
  }));
  ASSERT_EQ(stub_.subscriptions().size(), 1u);
  EXPECT_EQ(stub_.subscriptions()[0].pattern, "*");
}

TEST_F(WebTest, RefusedSubscriptionIsAnOrdinaryAnswer) {
  stub_.refuse_subscriptions(403);
  ASSERT_TRUE(load());
  std::optional<Reply> r = fetch(sse_request("/api/events/secret/*"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, "Subscribe denied\n");
  stub_.refuse_subscriptions(404, "No such event\n");
  r = fetch(sse_request("/api/events/none/x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(stub_.subscriptions().empty());
}

TEST_F(WebTest, EventsPathWithoutEventStreamIsAnOrdinaryGet) {
  stub_.on_send("/events", [](const Message&) { return respond(200, "Events registered: 0\n"); });
  ASSERT_TRUE(load());
  std::optional<Reply> r = fetch("GET /api/events HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "Events registered: 0\n");
  EXPECT_TRUE(stub_.subscriptions().empty());
}

}  // namespace
}  // namespace portal::web::test

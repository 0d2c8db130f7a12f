// Links between a real listener and a real client over TLS on 127.0.0.1: handshake,
// requests both ways, events, keepalive, limits and what happens when a link goes down.
#include <openssl/ssl.h>

#include <algorithm>
#include <future>

#include "support.h"

namespace portal::node::test {
namespace {

pb::Request make_request(const std::string& path, std::string body = {}) {
  pb::Request r;
  r.set_method(1);
  r.set_path(path);
  r.set_body(std::move(body));
  return r;
}

// Collects the answers of many requests.
struct Answers {
  std::mutex mu;
  std::vector<std::pair<std::string, pb::Response>> got;  // (path asked, answer)
  Link::ResponseFn expect(const std::string& path) {
    return [this, path](pb::Response&& r) {
      std::lock_guard lock(mu);
      got.emplace_back(path, std::move(r));
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return got.size();
  }
};

// Holds the requests a side receives; answers them all, last first, once `count` arrived.
struct ReverseAnswerer {
  std::mutex mu;
  std::size_t count;
  std::vector<std::pair<std::shared_ptr<Link>, pb::Request>> held;
  explicit ReverseAnswerer(std::size_t n) : count(n) {}
  void operator()(const std::shared_ptr<Link>& link, pb::Request&& req) {
    std::vector<std::pair<std::shared_ptr<Link>, pb::Request>> now;
    {
      std::lock_guard lock(mu);
      held.emplace_back(link, std::move(req));
      if (held.size() < count) return;
      now.swap(held);
    }
    std::reverse(now.begin(), now.end());
    for (auto& [l, r] : now) {
      pb::Response resp;
      resp.set_id(r.id());
      resp.set_status(200);
      resp.set_body("answer:" + r.path());
      l->respond(std::move(resp));
    }
  }
};

class LinkTest : public LinkFixture {};

TEST_F(LinkTest, HandshakeBringsBothSidesUp) {
  listen();
  auto client = connect();
  auto server = server_.link();
  ASSERT_TRUE(server);
  EXPECT_EQ(client->peer_name(), "server");
  EXPECT_EQ(server->peer_name(), "client");
  EXPECT_EQ(client->role(), Role::client);
  EXPECT_EQ(server->role(), Role::server);
  EXPECT_TRUE(server->is_up());
  EXPECT_EQ(client->remote_address(), "127.0.0.1:" + std::to_string(listener_->port()));
  EXPECT_EQ(server->remote_address().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(client_.downs(), 0u);
  EXPECT_EQ(server_.downs(), 0u);
  EXPECT_NE(client->stats().up_since, std::chrono::steady_clock::time_point{});
}

TEST_F(LinkTest, ExpectedPeerNameIsChecked) {
  listen();
  auto link = dial(io_.io, listener_->port(), *tls().client, link_options("client"), client_, "factory");
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1 && server_.downs() == 1; }));
  EXPECT_NE(client_.down_reasons()[0].find("calls itself 'server', expected 'factory'"), std::string::npos);
  EXPECT_EQ(client_.ups(), 0u);
  EXPECT_EQ(server_.ups(), 0u);
}

TEST_F(LinkTest, Tls12WithExtendedMasterSecretComesUp) {
  listen();
  TlsContexts tls12 = make_contexts(files());
  SSL_CTX_set_max_proto_version(tls12.client->native_handle(), TLS1_2_VERSION);
  auto link = dial(io_.io, listener_->port(), *tls12.client, link_options("client"), client_);
  ASSERT_TRUE(wait_until([&] { return link->is_up(); }));
}

TEST_F(LinkTest, Tls12WithoutExtendedMasterSecretCannotAuthenticate) {
  // RFC 9266: without the extended master secret the exporter does not bind the session.
  listen();
  TlsContexts weak = make_contexts(files());
  SSL_CTX_set_max_proto_version(weak.client->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(weak.client->native_handle(), SSL_OP_NO_EXTENDED_MASTER_SECRET);
  auto link = dial(io_.io, listener_->port(), *weak.client, link_options("client"), client_);
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1 && server_.downs() == 1; }));
  EXPECT_EQ(client_.down_reasons()[0], "TLS session cannot export a channel binding");
  EXPECT_EQ(server_.down_reasons()[0], "TLS session cannot export a channel binding");
  EXPECT_EQ(server_.ups(), 0u);
}

TEST_F(LinkTest, ManyRequestsInFlightBothWaysAnsweredOutOfOrder) {
  constexpr std::size_t kEach = 200;
  ReverseAnswerer at_server(kEach), at_client(kEach);
  server_.on_request = std::ref(at_server);
  client_.on_request = std::ref(at_client);
  listen();
  auto client = connect();
  auto server = server_.link();
  Answers from_server, from_client;
  for (std::size_t i = 0; i < kEach; ++i) {
    const std::string c = "/c/" + std::to_string(i), s = "/s/" + std::to_string(i);
    client->request(make_request(c), 5s, from_server.expect(c));
    server->request(make_request(s), 5s, from_client.expect(s));
  }
  ASSERT_TRUE(wait_until([&] { return from_server.size() == kEach && from_client.size() == kEach; }));
  for (auto* answers : {&from_server, &from_client}) {
    std::lock_guard lock(answers->mu);
    for (auto& [path, resp] : answers->got) {
      EXPECT_EQ(resp.status(), 200u);
      EXPECT_EQ(resp.body(), "answer:" + path);
    }
    // Answered last first: the first answer to arrive is for the last request sent.
    EXPECT_EQ(answers->got.front().first.substr(3), std::to_string(kEach - 1));
  }
  EXPECT_EQ(client->stats().msgs_sent, 2 * kEach);
  EXPECT_EQ(client->stats().msgs_recv, 2 * kEach);
  EXPECT_EQ(client->stats().in_flight, 0u);
  EXPECT_EQ(client->stats().errors, 0u);
}

TEST_F(LinkTest, LoopWithTwoThreadsAndCallersOnOthers) {
  std::thread second([this] { io_.io.run(); });
  listen();
  auto client = connect();
  auto server = server_.link();
  constexpr int kPerCaller = 300;
  Answers answers;
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      auto& link = t % 2 ? server : client;
      for (int i = 0; i < kPerCaller; ++i) {
        const std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        link->request(make_request(path), 5s, answers.expect(path));
        pb::Event ev;
        ev.set_body(path);
        link->send_event(ev);
      }
    });
  for (auto& c : callers) c.join();
  const bool all = wait_until([&] { return answers.size() == 4 * kPerCaller; });
  io_.stop();
  second.join();
  ASSERT_TRUE(all);
  std::lock_guard lock(answers.mu);
  for (auto& [path, resp] : answers.got) EXPECT_EQ(resp.body(), "answer:" + path);
}

TEST_F(LinkTest, EventsArriveInOrderBothWays) {
  listen();
  auto client = connect();
  auto server = server_.link();
  for (int i = 0; i < 20; ++i) {
    pb::Event ev;
    ev.set_subscription(7);
    ev.set_path("/events/x");
    ev.set_body(std::to_string(i));
    client->send_event(ev);
    server->send_event(ev);
  }
  ASSERT_TRUE(wait_until([&] { return server_.events().size() == 20 && client_.events().size() == 20; }));
  const auto got = server_.events();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)].body(), std::to_string(i));
  EXPECT_EQ(got[0].subscription(), 7u);
  EXPECT_EQ(got[0].path(), "/events/x");
}

TEST_F(LinkTest, PingsMeasureLatency) {
  auto fast = [](const std::string& name) {
    auto o = link_options(name);
    o.ping_interval = 20ms;
    return o;
  };
  listen(fast("server"));
  auto client = connect(fast("client"));
  EXPECT_LT(client->stats().latency_ms, 0);
  ASSERT_TRUE(wait_until([&] { return client->stats().latency_ms >= 0 && server_.link()->stats().latency_ms >= 0; }));
  EXPECT_LT(client->stats().latency_ms, 1000);
}

TEST_F(LinkTest, PingsKeepAnIdleLinkUp) {
  auto opts = [](const std::string& name) {
    auto o = link_options(name);
    o.ping_interval = 20ms;
    o.dead_after = 300ms;
    return o;
  };
  listen(opts("server"));
  auto client = connect(opts("client"));
  // Staying up is the point: three dead_after periods pass with nothing but pings.
  std::this_thread::sleep_for(900ms);
  EXPECT_TRUE(client->is_up());
  EXPECT_EQ(client_.downs(), 0u);
}

TEST_F(LinkTest, SilentPeerIsDetectedAsDead) {
  // A server that authenticates honestly, then neither reads nor writes anything.
  RawServer fake(*tls().server);
  auto opts = link_options("client");
  opts.ping_interval = 50ms;
  opts.dead_after = 300ms;
  auto link = dial(io_.io, fake.port(), *tls().client, opts, client_);
  auto peer = fake.accept();
  ASSERT_TRUE(peer);
  pb::AuthChallenge challenge;
  const Nonce ns = random_nonce();
  challenge.set_nonce(std::string(reinterpret_cast<const char*>(ns.data()), ns.size()));
  challenge.set_node("silent");
  ASSERT_TRUE(peer->write_frame(FrameType::auth_challenge, challenge));
  auto f = peer->read_frame();
  ASSERT_TRUE(f);
  pb::AuthResponse r;
  ASSERT_TRUE(r.ParseFromString(f->body));
  const Proof p = proof(test_key(), Role::server,
                        Transcript{r.nonce(), challenge.nonce(), r.node(), "silent", peer->exporter()});
  pb::Response ok;
  ok.set_status(200);
  ok.set_body(std::string(reinterpret_cast<const char*>(p.data()), p.size()));
  ASSERT_TRUE(peer->write_frame(FrameType::response, ok));
  ASSERT_TRUE(wait_until([&] { return client_.ups() == 1; }));
  const auto up = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }, 3s));
  const auto took = std::chrono::steady_clock::now() - up;
  EXPECT_EQ(client_.down_reasons()[0], "no frames for 0.3 s");
  EXPECT_GE(took, 250ms);  // measured from when this thread saw it up, a little late
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(peer->wait_closed());
}

TEST_F(LinkTest, TimeoutAnswers504AndDropsTheLateAnswer) {
  std::mutex mu;
  std::vector<pb::Request> held;
  server_.on_request = [&](const std::shared_ptr<Link>&, pb::Request&& r) {
    std::lock_guard lock(mu);
    held.push_back(std::move(r));
  };
  listen();
  auto client = connect();
  std::promise<pb::Response> answer;
  const auto sent = std::chrono::steady_clock::now();
  client->request(make_request("/slow"), 100ms, [&](pb::Response&& r) { answer.set_value(std::move(r)); });
  auto fut = answer.get_future();
  ASSERT_EQ(fut.wait_for(3s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 100ms);
  EXPECT_EQ(fut.get().status(), 504u);
  EXPECT_EQ(client->stats().errors, 1u);
  // The answer comes after all: it is dropped and counted, and the link stays up.
  pb::Response late;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(held.size(), 1u);
    late.set_id(held[0].id());
  }
  late.set_status(200);
  server_.link()->respond(late);
  ASSERT_TRUE(wait_until([&] { return client->stats().dropped_responses == 1; }));
  EXPECT_TRUE(client->is_up());
}

TEST_F(LinkTest, FullWriteQueueAnswers503) {
  auto opts = link_options("client");
  opts.max_write_queue = 64 * 1024;
  std::vector<int> statuses(3, 0);
  std::mutex mu;
  std::atomic<int> answered{0};
  server_.on_request = [](const std::shared_ptr<Link>&, pb::Request&&) {};  // never answers
  // On the link's own executor, three 1 MiB requests back to back: the first fills the queue.
  client_.on_up = [&](const std::shared_ptr<Link>& link) {
    for (int i = 0; i < 3; ++i)
      link->request(make_request("/big", std::string(1 << 20, 'x')), 5s, [&, i](pb::Response&& r) {
        std::lock_guard lock(mu);
        statuses[static_cast<std::size_t>(i)] = static_cast<int>(r.status());
        ++answered;
      });
  };
  listen();
  auto client = connect(opts);
  ASSERT_TRUE(wait_until([&] { return answered == 2; }));
  std::lock_guard lock(mu);
  EXPECT_EQ(statuses, (std::vector<int>{0, 503, 503}));
  EXPECT_EQ(client->stats().errors, 2u);
  EXPECT_EQ(client->stats().in_flight, 1u);
}

TEST_F(LinkTest, InFlightLimitAnswers503) {
  auto opts = link_options("client");
  opts.max_in_flight = 2;
  server_.on_request = [](const std::shared_ptr<Link>&, pb::Request&&) {};
  listen();
  auto client = connect(opts);
  Answers answers;
  for (int i = 0; i < 3; ++i) client->request(make_request("/p" + std::to_string(i)), 5s, answers.expect("/p"));
  ASSERT_TRUE(wait_until([&] { return answers.size() == 1; }));
  EXPECT_EQ(answers.got[0].second.status(), 503u);
  EXPECT_EQ(client->stats().in_flight, 2u);
}

TEST_F(LinkTest, OversizedRequestAnswers413) {
  listen();
  auto opts = link_options("client");
  opts.max_frame = 1024;
  auto client = connect(opts);
  std::promise<pb::Response> answer;
  client->request(make_request("/big", std::string(2048, 'x')), 5s, [&](pb::Response&& r) { answer.set_value(std::move(r)); });
  auto fut = answer.get_future();
  ASSERT_EQ(fut.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(fut.get().status(), 413u);
  EXPECT_TRUE(client->is_up());
}

TEST_F(LinkTest, DownAnswersPending503BeforeTheDownCallback) {
  server_.on_request = [](const std::shared_ptr<Link>&, pb::Request&&) {};
  listen();
  auto client = connect();
  std::mutex mu;
  std::vector<std::string> order;
  client_.on_down = [&](const std::string&) {
    std::lock_guard lock(mu);
    order.push_back("down");
  };
  for (int i = 0; i < 5; ++i)
    client->request(make_request("/held"), 10s, [&](pb::Response&& r) {
      std::lock_guard lock(mu);
      order.push_back(std::to_string(r.status()));
    });
  ASSERT_TRUE(wait_until([&] { return client->stats().in_flight == 5; }));
  server_.link()->close("test closes");
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_EQ(client_.down_reasons()[0], "closed by peer");
  EXPECT_EQ(server_.down_reasons(), std::vector<std::string>{"test closes"});
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<std::string>{"503", "503", "503", "503", "503", "down"}));
  EXPECT_FALSE(client->is_up());
}

TEST_F(LinkTest, RequestsOnAClosedLinkAnswer503AndDownRunsOnce) {
  listen();
  auto client = connect();
  client->close("first");
  client->close("second");
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1 && server_.downs() == 1; }));
  EXPECT_EQ(client_.down_reasons(), std::vector<std::string>{"first"});
  std::promise<pb::Response> answer;
  client->request(make_request("/x"), 1s, [&](pb::Response&& r) { answer.set_value(std::move(r)); });
  auto fut = answer.get_future();
  ASSERT_EQ(fut.wait_for(3s), std::future_status::ready);
  EXPECT_EQ(fut.get().status(), 503u);
  EXPECT_EQ(client_.downs(), 1u);
}

TEST_F(LinkTest, StoppingTheLoopWithLinksOpenIsSafe) {
  listen();
  auto client = connect();
  client->request(make_request("/x"), 10s, [](pb::Response&&) {});
  io_.stop();
  // The links are freed with the loop (the fixture); under ASan nothing may be touched after.
  SUCCEED();
}

}  // namespace
}  // namespace portal::node::test

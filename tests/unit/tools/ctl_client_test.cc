// The ctl client library against a tiny in-test server speaking the frame protocol.
#include <algorithm>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ctl_client.h"
#include "tiny_server.h"

namespace portal::tools::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Answers every request at once; the body says what the server saw.
void echo(int fd) {
  while (std::optional<pb::Message> m = TinyServer::read_request(fd)) {
    std::string seen = m->path() + " method=" + std::to_string(m->method()) +
                       " timeout=" + std::to_string(m->timeout_ms()) + " body=" + m->body();
    for (const pb::Header& h : m->headers()) seen += " " + h.key() + "=" + h.value();
    const pb::Credentials& c = m->ctx().credentials();
    if (!c.api_key().empty()) seen += " api_key=" + c.api_key();
    if (!c.username().empty()) seen += " user=" + c.username() + ":" + c.password();
    if (!TinyServer::write_response(fd, TinyServer::response(m->id(), 200, seen))) return;
  }
}

std::unique_ptr<CtlClient> connect_to(const TinyServer& server) {
  auto client = CtlClient::connect(server.path());
  EXPECT_TRUE(client) << (client ? "" : client.error().message);
  return client ? std::move(*client) : nullptr;
}

TEST(CtlClient, SendsARequestAndReadsItsResponse) {
  TinyServer server(echo);
  ASSERT_TRUE(server.ok());
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  Credentials creds;
  creds.api_key = "k1";
  Result<Response> r = client->request(Method::set, "/a/b", {{"x", "1"}}, "hello", creds, 2000ms);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "/a/b method=2 timeout=2000 body=hello x=1 api_key=k1");
  EXPECT_EQ(client->in_flight(), 0u);
}

TEST(CtlClient, ExplicitDeadlineIsSentAsIs) {
  TinyServer server(echo);
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  CtlRequest req{.method = Method::call, .path = "/p", .deadline = 123ms};
  req.credentials.username = "u";
  req.credentials.password = "pw";
  Result<Response> r = client->request(std::move(req), 2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/p method=3 timeout=123 body= user=u:pw");
}

TEST(CtlClient, PipelinedResponsesMayComeOutOfOrder) {
  constexpr int kCount = 10;
  TinyServer server([](int fd) {
    std::vector<pb::Message> got;
    for (int i = 0; i < kCount; ++i)
      if (auto m = TinyServer::read_request(fd)) got.push_back(*m);
    std::reverse(got.begin(), got.end());
    for (const pb::Message& m : got) TinyServer::write_response(fd, TinyServer::response(m.id(), 200, m.path()));
    while (TinyServer::read_request(fd)) {
    }
  });
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < kCount; ++i) {
    Result<std::uint64_t> id = client->send({.path = "/r/" + std::to_string(i)}, 2000ms);
    ASSERT_TRUE(id);
    ids.push_back(*id);
  }
  EXPECT_EQ(client->in_flight(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    Result<Response> r = client->wait(ids[i], 2000ms);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "/r/" + std::to_string(i));
  }
}

TEST(CtlClient, ManyThreadsShareOneConnection) {
  TinyServer server(echo);
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        Result<Response> r = client->request(Method::get, path, {}, {}, {}, 5000ms);
        if (r && r->body.starts_with(path + " ")) ++good;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 200);
}

// The server answers each request before reading the next and blocks while the client does
// not read: a client that only wrote would deadlock; this one reads while it waits.
TEST(CtlClient, SendingManyWithoutWaitingDoesNotDeadlock) {
  TinyServer server(echo);
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  std::vector<std::uint64_t> ids;
  const std::string body(16 * 1024, 'x');
  for (int i = 0; i < 400; ++i) {
    Result<std::uint64_t> id = client->send({.path = "/m", .body = body}, 5000ms);
    ASSERT_TRUE(id) << id.error().message;
    ids.push_back(*id);
  }
  for (std::uint64_t id : ids) {
    Result<Response> r = client->wait(id, 5000ms);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body.size(), body.size() + std::string("/m method=1 timeout=0 body=").size());
  }
}

TEST(CtlClient, TimesOutWhenNoAnswerComes) {
  TinyServer server([](int fd) {
    while (TinyServer::read_request(fd)) {
    }
  });
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  const auto start = Clock::now();
  Result<Response> r = client->request(Method::get, "/slow", {}, {}, {}, 100ms);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, status::gateway_timeout);
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(client->connected());
  EXPECT_EQ(client->in_flight(), 0u);
}

TEST(CtlClient, LateResponseOfAnAbandonedRequestIsDropped) {
  TinyServer server([](int fd) {
    auto first = TinyServer::read_request(fd);
    auto second = TinyServer::read_request(fd);
    if (!first || !second) return;
    TinyServer::write_response(fd, TinyServer::response(first->id(), 200, "late"));
    TinyServer::write_response(fd, TinyServer::response(second->id(), 200, "second"));
    while (TinyServer::read_request(fd)) {
    }
  });
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  Result<std::uint64_t> first = client->send({.path = "/1"});
  ASSERT_TRUE(first);
  client->abandon(*first);
  Result<Response> r = client->request(Method::get, "/2", {}, {}, {}, 2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "second");
  EXPECT_FALSE(client->wait(*first, 10ms));
}

TEST(CtlClient, ServerClosingFailsCallsInFlightAndLater) {
  TinyServer server([](int fd) { (void)TinyServer::read_request(fd); });
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  Result<Response> r = client->request(Method::get, "/x", {}, {}, {}, 5000ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, status::unavailable);
  EXPECT_NE(r.error().message.find(server.path()), std::string::npos);
  EXPECT_FALSE(client->connected());
  Result<Response> again = client->request(Method::get, "/y", {}, {}, {}, 1000ms);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, status::unavailable);
}

TEST(CtlClient, OversizedOrMalformedFramesBreakTheConnection) {
  for (const std::string& bad : {std::string("\xff\xff\xff\x7f", 4), TinyServer::frame_of(std::string(8, '\xff'))}) {
    TinyServer server([bad](int fd) {
      (void)TinyServer::read_request(fd);
      TinyServer::write_raw(fd, bad);
      while (TinyServer::read_request(fd)) {
      }
    });
    auto client = connect_to(server);
    ASSERT_TRUE(client);
    Result<Response> r = client->request(Method::get, "/x", {}, {}, {}, 2000ms);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, status::internal_error) << r.error().message;
    EXPECT_FALSE(client->connected());
  }
}

TEST(CtlClient, LargeBodiesBothWays) {
  TinyServer server([](int fd) {
    while (auto m = TinyServer::read_request(fd))
      TinyServer::write_response(fd, TinyServer::response(m->id(), 200, m->body() + m->body()));
  });
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  std::string body(20u << 20, 'z');
  body[999] = '\0';
  Result<Response> r = client->request(Method::set, "/big", {}, body, {}, 10000ms);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body.size(), 2 * body.size());
  EXPECT_TRUE(r->body == body + body);
}

TEST(CtlClient, CannotConnectNamesTheSocketAndTheReason) {
  auto client = CtlClient::connect("/nonexistent/portal/ctl.sock");
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, status::unavailable);
  EXPECT_EQ(client.error().message, "cannot connect to /nonexistent/portal/ctl.sock: No such file or directory");
  EXPECT_FALSE(CtlClient::connect(std::string(200, 'a')));
}

TEST(CtlClient, ShutdownWakesAWaiter) {
  TinyServer server([](int fd) {
    while (TinyServer::read_request(fd)) {
    }
  });
  auto client = connect_to(server);
  ASSERT_TRUE(client);
  std::thread closer([&] {
    while (client->in_flight() == 0) std::this_thread::yield();  // the request is under way
    client->shutdown();
  });
  Result<Response> r = client->request(Method::get, "/x", {}, {}, {}, 10000ms);
  closer.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, status::unavailable);
}

}  // namespace
}  // namespace portal::tools::test

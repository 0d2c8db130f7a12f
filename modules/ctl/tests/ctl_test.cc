// mod_ctl on the stub router, with real clients on a socket in a temporary folder.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <boost/asio/local/stream_protocol.hpp>
#include <gtest/gtest.h>

#include "portal/result.h"
#include "testing/stub_router.h"
#include "test_client.h"

namespace portal::ctl::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class CtlModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portal-ctl-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/ctl.sock";
    stub_.set_config("socket", socket_);
    deadline_ = Clock::now() + std::chrono::seconds(20);
  }
  void TearDown() override {
    if (stub_.loaded()) {
      EXPECT_TRUE(stub_.unload());
      EXPECT_TRUE(stub_.leftovers().empty()) << "the module removes what it registered";
      EXPECT_FALSE(fs::exists(socket_)) << "unload removes the socket file";
    }
    fs::remove_all(dir_);
  }

  Status load() { return stub_.load_library(MOD_CTL_PATH); }

  // One round of the module's event loop (it only runs when the test runs it).
  bool pump() {
    if (Clock::now() > deadline_) return false;
    stub_.poll();
    boost::asio::io_context& io = stub_.io();
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(1));
    return true;
  }
  Pump pumper() {
    return [this] { return pump(); };
  }
  bool pump_until(const std::function<bool()>& done) {
    while (!done())
      if (!pump()) return false;
    return true;
  }
  std::string status() { return stub_.request(Method::get, "/ctl/resources/status").body; }
  bool clients_are(int n) {
    return pump_until([&] { return status().find("Clients: " + std::to_string(n) + "\n") != std::string::npos; });
  }
  // A request through a fresh client: the module still serves.
  void expect_serves() {
    TestClient c(socket_, pumper());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(make_request(7, "/ctl/resources/status")));
    std::optional<pb::Response> r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->id(), 7u);
    EXPECT_EQ(r->status(), 200u);
  }

  testing::StubRouter stub_;
  std::string dir_, socket_;
  Clock::time_point deadline_;
};

TEST_F(CtlModuleTest, ForwardsTheRequestWithCredentialsAndNoIdentity) {
  std::optional<Message> seen;
  stub_.on_send("/echo/*", [&](const Message& m) {
    seen = m;
    return respond(status::created, "got " + m.body);
  });
  ASSERT_TRUE(load());
  TestClient c(socket_, pumper());
  ASSERT_TRUE(c.connected());
  pb::Message m = make_request(42, "/echo/x", pb::SET, std::string("bo\0dy", 5));
  pb::Header* h = m.add_headers();
  h->set_key("k");
  h->set_value("v=1");
  m.set_timeout_ms(1234);
  m.mutable_ctx()->mutable_credentials()->set_api_key("key");
  m.mutable_ctx()->mutable_credentials()->set_username("alice");
  m.mutable_ctx()->mutable_credentials()->set_password("pw");
  m.mutable_ctx()->mutable_credentials()->set_peer_uid(0);
  m.mutable_ctx()->mutable_auth()->set_user("root");
  m.mutable_ctx()->mutable_auth()->add_labels("admin");
  m.mutable_ctx()->mutable_asserted()->set_user("root");
  ASSERT_TRUE(c.send(m));

  std::optional<pb::Response> r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id(), 42u);
  EXPECT_EQ(r->status(), 201u);
  EXPECT_EQ(r->body(), std::string("got bo\0dy", 9));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->path, "/echo/x");
  EXPECT_EQ(seen->method, Method::set);
  ASSERT_EQ(seen->headers.size(), 1u);
  EXPECT_EQ(seen->headers[0].key, "k");
  EXPECT_EQ(seen->headers[0].value, "v=1");
  EXPECT_EQ(seen->timeout, std::chrono::milliseconds(1234));
  EXPECT_EQ(seen->ctx.credentials.api_key, "key");
  EXPECT_EQ(seen->ctx.credentials.username, "alice");
  EXPECT_EQ(seen->ctx.credentials.password, "pw");
  EXPECT_TRUE(seen->ctx.auth.user.empty());
  EXPECT_TRUE(seen->ctx.auth.labels.empty());
}

TEST_F(CtlModuleTest, StatusCountsClientsAndRequests) {
  ASSERT_TRUE(load());
  EXPECT_EQ(status(), "Control socket\nSocket: " + socket_ + "\nClients: 0\nRequests: 0\n");
  TestClient c(socket_, pumper());
  ASSERT_TRUE(c.send(make_request(1, "/ctl/resources/status")));
  std::optional<pb::Response> r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body(), "Control socket\nSocket: " + socket_ + "\nClients: 1\nRequests: 1\n");
}

TEST_F(CtlModuleTest, AnswersPipelinedRequestsById) {
  stub_.set_config("max_pending", "4");  // most of them wait while reading is paused
  stub_.on_send("/p/*", [](const Message& m) { return respond(status::ok, m.path); });
  ASSERT_TRUE(load());
  TestClient c(socket_, pumper());
  std::string all;
  for (int i = 1; i <= 50; ++i) all += request_frame(make_request(i, "/p/" + std::to_string(i)));
  ASSERT_TRUE(c.send_raw(all));
  std::set<std::uint64_t> ids;
  for (int i = 1; i <= 50; ++i) {
    std::optional<pb::Response> r = c.read_response();
    ASSERT_TRUE(r) << "response " << i;
    EXPECT_EQ(r->body(), "/p/" + std::to_string(r->id()));
    ids.insert(r->id());
  }
  EXPECT_EQ(ids.size(), 50u);
}

TEST_F(CtlModuleTest, UnknownMethodIsA400) {
  ASSERT_TRUE(load());
  TestClient c(socket_, pumper());
  ASSERT_TRUE(c.send(make_request(5, "/ctl/resources/status", pb::METHOD_NONE)));
  ASSERT_TRUE(c.send(make_request(6, "/ctl/resources/status", static_cast<pb::Method>(99))));
  for (std::uint64_t id : {5u, 6u}) {
    std::optional<pb::Response> r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->id(), id);
    EXPECT_EQ(r->status(), 400u);
  }
}

TEST_F(CtlModuleTest, OversizedFrameClosesOnlyThatConnection) {
  stub_.set_config("max_frame", "1024");
  ASSERT_TRUE(load());
  TestClient bad(socket_, pumper());
  std::string header = frame_of(std::string(1025, 'x')).substr(0, 4);
  ASSERT_TRUE(bad.send_raw(header + "abc"));
  EXPECT_TRUE(bad.closed_by_server());
  EXPECT_EQ(bad.bytes_received(), 0u);
  EXPECT_TRUE(stub_.logged("exceeds max_frame"));
  expect_serves();
}

TEST_F(CtlModuleTest, GarbageFramesCloseOnlyTheirConnection) {
  ASSERT_TRUE(load());
  pb::Envelope response_env;
  response_env.mutable_response()->set_id(1);
  for (const std::string& payload : {std::string(12, '\xff'), std::string(), response_env.SerializeAsString(),
                                     std::string("\x0a\x05\x08", 3)}) {
    TestClient bad(socket_, pumper());
    ASSERT_TRUE(bad.send_raw(frame_of(payload)));
    EXPECT_TRUE(bad.closed_by_server());
    EXPECT_EQ(bad.bytes_received(), 0u);
  }
  EXPECT_TRUE(stub_.logged("unparsable frame"));
  expect_serves();
}

TEST_F(CtlModuleTest, HostileClientsDoNotFloodTheLog) {
  ASSERT_TRUE(load());
  for (int i = 0; i < 30; ++i) {
    TestClient bad(socket_, pumper());
    ASSERT_TRUE(bad.send_raw(frame_of(std::string(4, '\xff'))));
    EXPECT_TRUE(bad.closed_by_server());
  }
  std::size_t warnings = 0;
  for (const testing::LogLine& line : stub_.logs()) warnings += line.text.find("unparsable") != std::string::npos;
  EXPECT_EQ(warnings, 10u);
  expect_serves();
}

TEST_F(CtlModuleTest, ClientLeavingMidFrameIsForgotten) {
  ASSERT_TRUE(load());
  {
    TestClient c(socket_, pumper());
    std::string frame = request_frame(make_request(1, "/ctl/resources/status"));
    ASSERT_TRUE(c.send_raw(frame.substr(0, frame.size() / 2)));
    ASSERT_TRUE(clients_are(1));
  }
  EXPECT_TRUE(clients_are(0));
  expect_serves();
}

TEST_F(CtlModuleTest, HalfClosedClientStillGetsItsAnswers) {
  ASSERT_TRUE(load());
  TestClient c(socket_, pumper());
  ASSERT_TRUE(c.send(make_request(3, "/ctl/resources/status")));
  c.shutdown_write();
  std::optional<pb::Response> r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id(), 3u);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_F(CtlModuleTest, ExtraClientsAreClosedAtOnce) {
  stub_.set_config("max_clients", "1");
  ASSERT_TRUE(load());
  TestClient first(socket_, pumper());
  ASSERT_TRUE(clients_are(1));
  TestClient second(socket_, pumper());
  EXPECT_TRUE(second.closed_by_server());
  ASSERT_TRUE(first.send(make_request(9, "/ctl/resources/status")));
  std::optional<pb::Response> r = first.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->id(), 9u);
}

TEST_F(CtlModuleTest, IdleClientIsClosed) {
  stub_.set_config("idle_timeout_ms", "50");
  ASSERT_TRUE(load());
  TestClient c(socket_, pumper());
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_TRUE(clients_are(0));
}

TEST_F(CtlModuleTest, LargeBodiesPassBothWays) {
  stub_.on_send("/big", [](const Message& m) { return respond(status::ok, m.body); });
  ASSERT_TRUE(load());
  TestClient c(socket_, pumper());
  std::string body(64u << 20, 'b');
  body[12345] = '\0';
  ASSERT_TRUE(c.send(make_request(1, "/big", pb::SET, body)));
  std::optional<pb::Response> r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), 200u);
  EXPECT_TRUE(r->body() == body);
}

TEST_F(CtlModuleTest, SocketGetsTheConfiguredMode) {
  stub_.set_config("mode", "0600");
  ASSERT_TRUE(load());
  struct stat st {};
  ASSERT_EQ(::stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(CtlModuleTest, StaleSocketIsReplaced) {
  {
    boost::asio::io_context io;
    boost::asio::local::stream_protocol::acceptor stale(io, boost::asio::local::stream_protocol::endpoint(socket_));
  }  // closed without unlinking: nobody listens there any more
  ASSERT_TRUE(fs::exists(socket_));
  ASSERT_TRUE(load());
  expect_serves();
}

TEST_F(CtlModuleTest, LiveSocketIsNotTakenOver) {
  boost::asio::io_context io;
  boost::asio::local::stream_protocol::acceptor live(io, boost::asio::local::stream_protocol::endpoint(socket_));
  Status st = load();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("in use"), std::string::npos);
  fs::remove(socket_);
}

TEST_F(CtlModuleTest, RegularFileIsNeverRemoved) {
  std::ofstream(socket_) << "precious";
  Status st = load();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  EXPECT_TRUE(fs::is_regular_file(socket_));
}

TEST(CtlModuleConfig, MissingSocketIsFatal) {
  testing::StubRouter stub;
  Status st = stub.load_library(MOD_CTL_PATH);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  EXPECT_NE(st.error().message.find("socket"), std::string::npos);
}

TEST(CtlModuleConfig, InvalidValuesAreFatal) {
  for (auto [key, value] : {std::pair{"mode", "rw"}, {"max_frame", "lots"}, {"max_clients", "0"}}) {
    testing::StubRouter stub;
    stub.set_config("socket", "/tmp/portal-ctl-never.sock");
    stub.set_config(key, value);
    Status st = stub.load_library(MOD_CTL_PATH);
    ASSERT_FALSE(st) << key;
    EXPECT_EQ(st.error().code, kFatalConfig) << key;
    EXPECT_NE(st.error().message.find(key), std::string::npos) << st.error().message;
  }
}

}  // namespace
}  // namespace portal::ctl::test

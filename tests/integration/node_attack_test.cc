// Attacks on the federation handshake of real nodes (issue 6, docs/PROTOCOL.md §11): a
// replayed AUTH_RESPONSE, a reflected challenge, a man in the middle with its own
// certificate, a server without the key. Each is refused with the connection closed, and
// the nodes keep serving their honest links. The hand-driven peers are the link tests' own
// (modules/node/tests/support.h).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "node_fixture.h"
#include "support.h"

namespace portal::itest {
namespace {

namespace nt = portal::node::test;
namespace pn = portal::node;
namespace pb = portal::node::pb;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class NodeAttack : public NodeFixture {
 protected:
  // TLS contexts with the suite's certificate (no CA: the nodes verify none either).
  static pn::TlsContexts contexts() { return nt::make_contexts({certs_ + "/server.crt", certs_ + "/server.key", ""}); }

  // What an honest raw client that knows the federation key sends.
  static nt::ClientAuth honest(const std::string& name = "raw") {
    nt::ClientAuth how;
    how.key = *pn::derive_key(kFederationKey);
    how.name = name;
    return how;
  }

  // Waits until `pred(text)` holds for what `read` returns; the last text read otherwise.
  static bool wait_text(const std::function<std::string()>& read, const std::function<bool(const std::string&)>& pred,
                        std::string& last, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      last = read();
      if (pred(last)) return true;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
  }
  static bool log_shows(Instance& inst, const std::string& text, std::string& log) {
    auto shows = [&](const std::string& l) { return l.find(text) != std::string::npos; };
    return wait_text([&] { return inst.log(); }, shows, log);
  }
  static std::string peer_detail(Instance& inst, const std::string& peer) {
    auto r = inst.get("/node/resources/peer/" + peer);
    return r ? r->body : std::string();
  }
  static std::string last_error_line(const std::string& detail) {
    std::smatch m;
    return std::regex_search(detail, m, std::regex("Last error: [^\n]*")) ? m.str() : std::string();
  }

  // The generic refusal: one 401 with id 0, then the node closes, nothing else on the wire.
  static void expect_one_401_then_closed(nt::RawPeer& peer, const std::optional<pb::Response>& answer) {
    ASSERT_TRUE(answer) << "no answer to the AUTH_RESPONSE";
    EXPECT_EQ(answer->id(), 0u);
    EXPECT_EQ(answer->status(), 401u);
    EXPECT_EQ(answer->body(), "Authentication failed\n");
    std::vector<pn::Frame> extra;
    EXPECT_TRUE(peer.wait_closed(8s, &extra)) << "the node kept the connection open";
    EXPECT_TRUE(extra.empty()) << extra.size() << " frames after the 401";
  }

  static void expect_serving(Instance& via, const std::string& peer) {
    auto r = via.get("/node/" + peer + "/hello/resources/greeting");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, "Hello from Portal!\n");
  }

  // factory, with office linked to it as the honest witness that factory keeps serving.
  void start_pair() {
    fport_ = free_port();
    factory_ = node({"factory", fport_});
    office_ = node({"office", free_port(), {}, peer_section("factory", fport_)});
    ASSERT_TRUE(wait_peer(*office_, "factory")) << peer_detail(*office_, "factory") << office_->log();
  }

  std::uint16_t fport_ = 0;
  std::unique_ptr<Instance> factory_, office_;
};

// An AUTH_RESPONSE recorded in a good session is worthless in the next one: the server's
// nonce and the TLS exporter differ.
TEST_F(NodeAttack, ReplayedAuthResponseIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start_pair());
  auto tls = contexts();
  std::string captured;
  {
    auto first = nt::RawPeer::connect_tls(fport_, *tls.client);
    ASSERT_TRUE(first);
    auto challenge = nt::read_challenge(*first);
    ASSERT_TRUE(challenge);
    EXPECT_EQ(challenge->node(), "factory");
    captured = nt::auth_response_frame(*first, *challenge, honest());
    ASSERT_TRUE(first->write(captured));
    auto answer = nt::read_response(*first);
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status(), 200u) << "the honest raw client is refused: the attack below would prove nothing";
  }
  auto second = nt::RawPeer::connect_tls(fport_, *tls.client);
  ASSERT_TRUE(second);
  ASSERT_TRUE(nt::read_challenge(*second));
  ASSERT_TRUE(second->write(captured));
  expect_one_401_then_closed(*second, nt::read_response(*second));

  std::string log;
  EXPECT_TRUE(log_shows(*factory_, "refused: authentication failed: wrong proof from 'raw'", log)) << log;
  expect_serving(*office_, "factory");
}

// The node's own nonce sent back as the client's, with a proof made with the right key.
TEST_F(NodeAttack, ReflectedChallengeIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start_pair());
  auto tls = contexts();
  auto peer = nt::RawPeer::connect_tls(fport_, *tls.client);
  ASSERT_TRUE(peer);
  nt::ClientAuth reflect = honest();
  reflect.echo_server_nonce = true;
  expect_one_401_then_closed(*peer, nt::authenticate(*peer, reflect));

  std::string log;
  EXPECT_TRUE(log_shows(*factory_, "refused: authentication failed: client nonce equals the server nonce", log))
      << log;
  auto peers = factory_->get("/node/resources/peers")->body;
  EXPECT_EQ(peers.find("raw"), std::string::npos) << peers;
  expect_serving(*office_, "factory");

  // A client that keeps trying cannot flood the log: 20 refusals per 10 s are logged.
  for (int i = 0; i < 30; ++i) {
    auto again = nt::RawPeer::connect_tls(fport_, *tls.client);
    ASSERT_TRUE(again);
    expect_one_401_then_closed(*again, nt::authenticate(*again, reflect));
  }
  std::size_t lines = 0;
  const std::string all = factory_->log();
  for (std::size_t at = all.find("client nonce equals the server nonce"); at != std::string::npos;
       at = all.find("client nonce equals the server nonce", at + 1))
    ++lines;
  EXPECT_LE(lines, 20u) << all;
  EXPECT_GE(lines, 2u) << all;
  expect_serving(*office_, "factory");
}

// office's [peer:factory] points at a proxy that terminates TLS with its own certificate and
// relays the plaintext to the real factory. Both nodes hold the key, but their TLS
// exporters differ, so factory refuses office's proof; both keep serving honest links.
TEST_F(NodeAttack, ManInTheMiddleNeverLinks) {
  const std::uint16_t fport = free_port(), oport = free_port(), wport = free_port();
  auto factory = node({"factory", fport});
  nt::TempDir dir;
  nt::TlsProxy proxy(fport, nt::make_contexts(nt::make_cert(dir.path(), "mitm")));
  // witness: linked honestly to factory; office reaches it directly too.
  auto witness = node({"witness", wport, {}, peer_section("factory", fport)});
  auto office = node({"office", oport, {}, peer_section("factory", proxy.port()) + peer_section("witness", wport)});
  ASSERT_TRUE(wait_peer(*witness, "factory")) << witness->log();
  ASSERT_TRUE(wait_peer(*office, "witness")) << office->log();

  std::string detail;
  ASSERT_TRUE(wait_text([&] { return peer_detail(*office, "factory"); },
                        [&](const std::string& d) {
                          return proxy.sessions() >= 1 &&
                                 last_error_line(d) == "Last error: authentication refused by peer";
                        },
                        detail))
      << "sessions through the proxy: " << proxy.sessions() << "\n" << detail;
  EXPECT_FALSE(wait_peer(*office, "factory", "ready", 3s)) << peer_detail(*office, "factory");
  auto peers = factory->get("/node/resources/peers")->body;
  EXPECT_EQ(peers.find("office"), std::string::npos) << peers;
  std::string log;
  EXPECT_TRUE(log_shows(*factory, "refused: authentication failed: wrong proof from 'office'", log)) << log;

  expect_serving(*witness, "factory");
  expect_serving(*office, "witness");
  expect_serving(*witness, "office");
}

// A fake "factory" without the key: it challenges office, then answers the AUTH_RESPONSE with
// 200 and 32 bytes of garbage as its proof. office closes and never calls factory ready.
TEST_F(NodeAttack, ServerWithoutTheKeyIsRefused) {
  auto tls = contexts();
  nt::RawServer fake(*tls.server);
  auto office = node({"office", free_port(), {}, peer_section("factory", fake.port())});
  // accept() blocks until office dials: make sure office runs (it dials at load and redials).
  ASSERT_TRUE(office->wait_ready("node")) << office->log();

  std::unique_ptr<nt::RawPeer> peer;
  std::optional<pn::Frame> frame;
  // A dial that waited in the backlog past office's handshake deadline is gone: take the next.
  for (int attempt = 0; attempt < 5 && !frame; ++attempt) {
    peer = fake.accept(8s);
    if (!peer) continue;
    pb::AuthChallenge challenge;
    const pn::Nonce nonce = pn::random_nonce();
    challenge.set_nonce(std::string(reinterpret_cast<const char*>(nonce.data()), nonce.size()));
    challenge.set_node("factory");
    if (!peer->write_frame(pn::FrameType::auth_challenge, challenge)) continue;
    frame = peer->read_frame(5s);
  }
  ASSERT_TRUE(frame) << "office never answered a challenge\n" << office->log();
  ASSERT_EQ(frame->type, pn::FrameType::auth_response);
  pb::AuthResponse response;
  ASSERT_TRUE(response.ParseFromString(frame->body));
  EXPECT_EQ(response.node(), "office");

  pb::Response answer;
  answer.set_id(0);
  answer.set_status(200);
  std::string garbage(32, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 37 + 11);
  answer.set_body(garbage);
  ASSERT_TRUE(peer->write_frame(pn::FrameType::response, answer));
  std::vector<pn::Frame> extra;
  EXPECT_TRUE(peer->wait_closed(8s, &extra)) << "office kept the link open";
  EXPECT_TRUE(extra.empty()) << extra.size() << " frames after the forged proof";

  std::string detail;
  ASSERT_TRUE(wait_text([&] { return peer_detail(*office, "factory"); },
                        [&](const std::string& d) {
                          return last_error_line(d) == "Last error: authentication failed: the server's proof is wrong";
                        },
                        detail))
      << (last_error_line(detail).empty() ? "no Last error line" : last_error_line(detail)) << "\n" << detail;
  EXPECT_EQ(detail.find("\nStatus: ready\n"), std::string::npos) << detail;
  EXPECT_FALSE(wait_peer(*office, "factory", "ready", 1s)) << peer_detail(*office, "factory");
  auto r = office->get("/hello/resources/greeting");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace portal::itest

// Attacks on the handshake and the framing (issue 6). Each must end with the link closed,
// the honest side reporting it down and never up.
#include "support.h"

namespace portal::node::test {
namespace {

std::string bytes(const Proof& p) { return {reinterpret_cast<const char*>(p.data()), p.size()}; }

std::string header(std::uint8_t type, std::uint32_t length) {
  std::string h("PRT\0\0\x02", 6);
  h.push_back(static_cast<char>(type));
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>(length >> shift));
  return h;
}

class AttackTest : public LinkFixture {
 protected:
  // The server saw one link go down without coming up, for `reason` (a prefix).
  void expect_server_refused(const std::string& reason) {
    ASSERT_TRUE(wait_until([&] { return server_.downs() == 1; }));
    EXPECT_EQ(server_.ups(), 0u);
    EXPECT_EQ(server_.down_reasons()[0].rfind(reason, 0), 0u) << server_.down_reasons()[0];
  }
  // The peer got exactly one 401 and then the connection closed.
  static void expect_one_401_then_closed(RawPeer& peer, const std::optional<pb::Response>& answer) {
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->id(), 0u);
    EXPECT_EQ(answer->status(), 401u);
    EXPECT_EQ(answer->body(), "Authentication failed\n");
    std::vector<Frame> extra;
    EXPECT_TRUE(peer.wait_closed(3s, &extra));
    EXPECT_TRUE(extra.empty());
  }
  // A hand-driven client that has read the server's challenge (null when that failed).
  std::unique_ptr<RawPeer> challenged_peer() {
    auto peer = RawPeer::connect_tls(listener_->port(), *tls().client);
    return peer && read_challenge(*peer) ? std::move(peer) : nullptr;
  }
  // A fake server's side of the client's dial, with a challenge sent (null when that failed).
  static std::unique_ptr<RawPeer> challenge_from(RawServer& fake) {
    auto peer = fake.accept();
    pb::AuthChallenge challenge;
    challenge.set_nonce(std::string(32, 'n'));
    challenge.set_node("fake");
    return peer && peer->write_frame(FrameType::auth_challenge, challenge) ? std::move(peer) : nullptr;
  }
  // A hand-driven client that authenticated with the right key (null when that failed).
  std::unique_ptr<RawPeer> authenticated_peer() {
    listen();
    auto peer = RawPeer::connect_tls(listener_->port(), *tls().client);
    if (!peer) return nullptr;
    auto answer = authenticate(*peer);
    if (!answer || answer->status() != 200u) return nullptr;
    return peer;
  }
};

TEST_F(AttackTest, HonestRawClientIsAccepted) {
  // The hand-made client used below is right when it has the key: the attacks fail for
  // their own reason, not because the test client is broken.
  auto peer = authenticated_peer();
  ASSERT_TRUE(peer);
  ASSERT_TRUE(wait_until([&] { return server_.ups() == 1; }));
  EXPECT_EQ(server_.link()->peer_name(), "raw");
}

TEST_F(AttackTest, WrongKeyFailsOnBothSides) {
  listen(link_options("server", test_key('a')));
  auto link = dial(io_.io, listener_->port(), *tls().client, link_options("client", test_key('b')), client_);
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_EQ(client_.down_reasons()[0], "authentication refused by peer");
  EXPECT_EQ(client_.ups(), 0u);
  expect_server_refused("authentication failed: wrong proof from 'client'");
}

TEST_F(AttackTest, WrongKeyGetsOne401) {
  listen();
  auto peer = RawPeer::connect_tls(listener_->port(), *tls().client);
  ASSERT_TRUE(peer);
  ClientAuth wrong;
  wrong.key = test_key('w');
  expect_one_401_then_closed(*peer, authenticate(*peer, wrong));
  expect_server_refused("authentication failed");
}

TEST_F(AttackTest, ReplayedAuthResponseIsRejected) {
  listen();
  std::string captured;
  {
    auto first = RawPeer::connect_tls(listener_->port(), *tls().client);
    ASSERT_TRUE(first);
    auto challenge = read_challenge(*first);
    ASSERT_TRUE(challenge);
    captured = auth_response_frame(*first, *challenge, {});
    ASSERT_TRUE(first->write(captured));
    auto answer = read_response(*first);
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status(), 200u);
  }
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 1; }));
  server_.clear();
  auto second = RawPeer::connect_tls(listener_->port(), *tls().client);
  ASSERT_TRUE(second);
  ASSERT_TRUE(read_challenge(*second));
  ASSERT_TRUE(second->write(captured));
  expect_one_401_then_closed(*second, read_response(*second));
  expect_server_refused("authentication failed: wrong proof");
}

TEST_F(AttackTest, ReflectedChallengeIsRejected) {
  listen();
  auto peer = RawPeer::connect_tls(listener_->port(), *tls().client);
  ASSERT_TRUE(peer);
  ClientAuth reflect;
  reflect.echo_server_nonce = true;  // even with a proof made with the right key
  expect_one_401_then_closed(*peer, authenticate(*peer, reflect));
  expect_server_refused("authentication failed: client nonce equals the server nonce");
}

TEST_F(AttackTest, BadNonceSizeAndNameAreRejected) {
  listen();
  ClientAuth short_nonce;
  short_nonce.nonce = std::string(16, 'n');
  ClientAuth bad_name;
  bad_name.name = "evil/../name";
  for (const ClientAuth& how : {short_nonce, bad_name}) {
    server_.clear();
    auto peer = RawPeer::connect_tls(listener_->port(), *tls().client);
    ASSERT_TRUE(peer);
    expect_one_401_then_closed(*peer, authenticate(*peer, how));
    expect_server_refused("authentication failed");
  }
}

TEST_F(AttackTest, UnexpectedFrameTypeBeforeAuthenticationIsRejected) {
  listen();
  auto peer = challenged_peer();
  ASSERT_TRUE(peer);
  pb::Request req;
  req.set_path("/core/status");
  ASSERT_TRUE(peer->write_frame(FrameType::request, req));
  expect_one_401_then_closed(*peer, read_response(*peer));
  expect_server_refused("authentication failed: unexpected frame type");
}

TEST_F(AttackTest, ManInTheMiddleWithTheKeyIsRejected) {
  // The proxy has its own certificate and relays plaintext between two TLS sessions; client
  // and server both hold the right key, but their exporters differ.
  TempDir dir;
  listen();
  TlsProxy proxy(listener_->port(), make_contexts(make_cert(dir.path(), "mitm")));
  auto link = dial(io_.io, proxy.port(), *tls().client, link_options("client"), client_);
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_EQ(proxy.sessions(), 1u);
  EXPECT_EQ(client_.down_reasons()[0], "authentication refused by peer");
  EXPECT_EQ(client_.ups(), 0u);
  expect_server_refused("authentication failed: wrong proof from 'client'");
}

TEST_F(AttackTest, ServerWithoutTheKeyIsRefusedByTheClient) {
  RawServer fake(*tls().server);
  auto link = dial(io_.io, fake.port(), *tls().client, link_options("client"), client_);
  auto peer = challenge_from(fake);
  ASSERT_TRUE(peer);
  auto f = peer->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, FrameType::auth_response);
  pb::Response ok;
  ok.set_status(200);
  ok.set_body(bytes(random_nonce()));  // a proof it cannot compute
  ASSERT_TRUE(peer->write_frame(FrameType::response, ok));
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_EQ(client_.down_reasons()[0], "authentication failed: the server's proof is wrong");
  EXPECT_EQ(client_.ups(), 0u);
  // The client sent nothing after its AUTH_RESPONSE.
  std::vector<Frame> extra;
  EXPECT_TRUE(peer->wait_closed(3s, &extra));
  EXPECT_TRUE(extra.empty());
}

TEST_F(AttackTest, FakeServerOmittingTheProofIsRefused) {
  RawServer fake(*tls().server);
  auto link = dial(io_.io, fake.port(), *tls().client, link_options("client"), client_);
  auto peer = challenge_from(fake);
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->read_frame());
  pb::Response ok;
  ok.set_status(200);
  ASSERT_TRUE(peer->write_frame(FrameType::response, ok));
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_EQ(client_.ups(), 0u);
  EXPECT_TRUE(peer->wait_closed());
}

TEST_F(AttackTest, FourGiBLengthBeforeAuthenticationCloses) {
  listen();
  auto peer = challenged_peer();
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->write(header(0x05, 0xffffffffu)));
  EXPECT_TRUE(peer->wait_closed());
  expect_server_refused("protocol error: frame body of 4294967295 bytes over the limit of 4096");
}

TEST_F(AttackTest, FourGiBLengthAfterAuthenticationCloses) {
  auto peer = authenticated_peer();
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->write(header(0x01, 0xffffffffu)));
  EXPECT_TRUE(peer->wait_closed());
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 1; }));
  EXPECT_EQ(server_.down_reasons()[0], "protocol error: frame body of 4294967295 bytes over the limit of 16777216");
}

TEST_F(AttackTest, GarbageBeforeTheMagicCloses) {
  listen();
  auto peer = challenged_peer();
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(peer->wait_closed());
  expect_server_refused("protocol error: bad frame magic");
}

TEST_F(AttackTest, OversizedFrameBeforeAuthenticationCloses) {
  listen();
  auto peer = challenged_peer();
  ASSERT_TRUE(peer);
  ASSERT_TRUE(peer->write(header(0x05, kPreAuthMaxBody + 1) + std::string(kPreAuthMaxBody + 1, 'a')));
  EXPECT_TRUE(peer->wait_closed());
  expect_server_refused("protocol error: frame body of 4097 bytes");
}

TEST_F(AttackTest, HandshakeDeadlineClosesASilentClient) {
  auto opts = link_options("server");
  opts.handshake_timeout = 300ms;
  listen(opts);
  // Plain TCP, no TLS ClientHello at all.
  auto silent = RawPeer::connect_tcp(listener_->port());
  ASSERT_TRUE(silent);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent->wait_closed(3s));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
  expect_server_refused("handshake timeout");
}

TEST_F(AttackTest, HandshakeDeadlineClosesAClientThatNeverAnswersTheChallenge) {
  auto opts = link_options("server");
  opts.handshake_timeout = 300ms;
  listen(opts);
  auto peer = challenged_peer();
  ASSERT_TRUE(peer);
  EXPECT_TRUE(peer->wait_closed(3s));
  expect_server_refused("handshake timeout");
}

TEST_F(AttackTest, NotTlsAtAllCloses) {
  listen();
  auto peer = RawPeer::connect_tcp(listener_->port());
  ASSERT_TRUE(peer);
  std::string hello;
  append_frame(hello, FrameType::auth_response, "plaintext");
  ASSERT_TRUE(peer->write(hello));
  EXPECT_TRUE(peer->wait_closed());
  expect_server_refused("TLS handshake failed");
}

}  // namespace
}  // namespace portal::node::test

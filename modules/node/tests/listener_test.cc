// The listener: pending-handshake caps under a flood, no descriptor leaks, certificate
// verification, start and stop.
#include <boost/asio/connect.hpp>

#include "support.h"

namespace portal::node::test {
namespace {

namespace asio = boost::asio;

class ListenerTest : public LinkFixture {
 protected:
  // `n` plain TCP connections from `source` that never say anything.
  std::vector<std::unique_ptr<Tcp::socket>> flood(std::size_t n, const std::string& source) {
    std::vector<std::unique_ptr<Tcp::socket>> socks;
    for (std::size_t i = 0; i < n; ++i) {
      auto s = std::make_unique<Tcp::socket>(flood_io_);
      s->open(Tcp::v4());
      s->bind({asio::ip::make_address(source), 0});
      s->connect({asio::ip::make_address("127.0.0.1"), listener_->port()});
      socks.push_back(std::move(s));
    }
    return socks;
  }
  asio::io_context flood_io_;
};

TEST_F(ListenerTest, FloodOfUnauthenticatedConnectionsIsCapped) {
  auto opts = link_options("server");
  opts.handshake_timeout = 10s;  // the flood stays pending for the whole test
  Listener::Options caps;
  caps.max_pending = 40;
  caps.max_pending_per_address = 16;
  listen(opts, caps);
  auto from_1 = flood(100, "127.0.0.1");
  auto from_3 = flood(100, "127.0.0.3");
  // 16 per address are pending; the other 168 were closed at once.
  ASSERT_TRUE(wait_until([&] { return listener_->refused() == 168; })) << listener_->refused();

  // Another address still fits under the global cap and gets a link during the flood.
  Recorder other;
  auto during = dial(io_.io, listener_->port(), *tls().client, link_options("client"), other, "", "127.0.0.2");
  ASSERT_TRUE(wait_until([&] { return during->is_up(); }));

  // From a flooding address there is no room until the flood goes.
  Recorder blocked;
  auto refused = dial(io_.io, listener_->port(), *tls().client, link_options("client"), blocked, "", "127.0.0.1");
  ASSERT_TRUE(wait_until([&] { return blocked.downs() == 1; }));
  EXPECT_EQ(blocked.ups(), 0u);
  EXPECT_EQ(listener_->refused(), 169u);

  from_1.clear();
  from_3.clear();
  // The server notices the flood closing (TLS handshakes fail) and frees the slots.
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 32 && listener_->pending() == 0; }));
  Recorder after;
  auto link = dial(io_.io, listener_->port(), *tls().client, link_options("client"), after, "", "127.0.0.1");
  ASSERT_TRUE(wait_until([&] { return link->is_up(); }));
  EXPECT_EQ(listener_->refused(), 169u);
}

TEST_F(ListenerTest, GlobalCapHoldsAcrossAddresses) {
  Listener::Options caps;
  caps.max_pending = 4;
  caps.max_pending_per_address = 16;
  auto opts = link_options("server");
  opts.handshake_timeout = 10s;
  listen(opts, caps);
  auto a = flood(3, "127.0.0.1");
  auto b = flood(3, "127.0.0.3");
  ASSERT_TRUE(wait_until([&] { return listener_->refused() == 2; })) << listener_->refused();
}

TEST_F(ListenerTest, HundredConnectCloseCyclesLeakNoDescriptors) {
  listen();
  auto cycle = [&] {
    const std::size_t downs = server_.downs();
    Recorder rec;
    auto link = dial(io_.io, listener_->port(), *tls().client, link_options("client"), rec);
    if (!wait_until([&] { return link->is_up(); })) return false;
    link->close("cycle");
    return wait_until([&] { return rec.downs() == 1 && server_.downs() == downs + 1; });
  };
  ASSERT_TRUE(cycle());  // warms up what is made once (OpenSSL tables, the loop's own fds)
  server_.clear();
  const std::size_t before = open_fds();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(cycle()) << "cycle " << i;
  server_.clear();
  // Server-side sockets close right after their down callback.
  EXPECT_TRUE(wait_until([&] { return open_fds() <= before; })) << open_fds() << " > " << before;
}

TEST_F(ListenerTest, PortInUseIsAnError) {
  listen();
  Listener::Options same;
  same.bind = "127.0.0.1";
  same.port = listener_->port();
  auto again = Listener::start(io_.io, tls().server, same, link_options("server"), [this] { return server_.callbacks(); });
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("cannot listen on 127.0.0.1 port"), std::string::npos);
}

TEST_F(ListenerTest, StopRefusesNewConnectionsAndEndsPendingHandshakes) {
  auto opts = link_options("server");
  opts.handshake_timeout = 10s;
  listen(opts);
  auto silent = RawPeer::connect_tcp(listener_->port());
  ASSERT_TRUE(silent);
  ASSERT_TRUE(wait_until([&] { return listener_->pending() == 1; }));
  const std::uint16_t port = listener_->port();
  listener_->stop();
  EXPECT_TRUE(silent->wait_closed(3s));
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 1; }));
  EXPECT_EQ(server_.down_reasons()[0], "listener stopped");
  EXPECT_TRUE(wait_until([&] { return RawPeer::connect_tcp(port) == nullptr; }));
}

TEST(TlsContextsTest, MissingFilesAreErrors) {
  TempDir dir;
  auto files = make_cert(dir.path(), "n");
  auto bad_cert = files;
  bad_cert.cert_file = dir.path() + "/missing.crt";
  auto r = make_tls_contexts(bad_cert);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("missing.crt"), std::string::npos);
  auto bad_ca = files;
  bad_ca.ca_file = dir.path() + "/missing-ca.crt";
  EXPECT_FALSE(make_tls_contexts(bad_ca));
  auto other = make_cert(dir.path(), "other");
  auto mismatch = files;
  mismatch.key_file = other.key_file;
  EXPECT_FALSE(make_tls_contexts(mismatch));
}

// With a CA file both sides verify certificates; clients also check verify_host.
class TlsVerifyTest : public LinkFixture {
 protected:
  void SetUp() override {
    trusted_ = make_cert(dir_.path(), "trusted");
    trusted_.ca_file = trusted_.cert_file;
    stranger_ = make_cert(dir_.path(), "stranger");
    stranger_.ca_file = trusted_.cert_file;
  }
  void listen_with(const TlsFiles& files) {
    server_tls_ = make_contexts(files);
    auto l = Listener::start(io_.io, server_tls_.server, {"127.0.0.1", 0}, link_options("server"),
                             [this] { return server_.callbacks(); });
    ASSERT_TRUE(l) << l.error().message;
    listener_ = *l;
  }
  std::shared_ptr<Link> dial_with(const TlsFiles& files, const std::string& verify_host) {
    client_tls_ = make_contexts(files);
    auto opts = link_options("client");
    opts.verify_host = verify_host;
    return dial(io_.io, listener_->port(), *client_tls_.client, opts, client_);
  }
  TempDir dir_;
  TlsFiles trusted_, stranger_;
  TlsContexts server_tls_, client_tls_;
};

TEST_F(TlsVerifyTest, TrustedCertificatesMatchingTheHostComeUp) {
  listen_with(trusted_);
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    auto link = dial_with(trusted_, host);
    ASSERT_TRUE(wait_until([&] { return link->is_up(); })) << host;
    link->close("done");
  }
}

TEST_F(TlsVerifyTest, WrongHostIsRefusedByTheClient) {
  listen_with(trusted_);
  auto link = dial_with(trusted_, "factory.example");
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_NE(client_.down_reasons()[0].find("TLS handshake failed"), std::string::npos) << client_.down_reasons()[0];
  EXPECT_EQ(client_.ups(), 0u);
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 1; }));
}

TEST_F(TlsVerifyTest, UntrustedServerIsRefusedByTheClient) {
  listen_with(stranger_);
  auto link = dial_with(trusted_, "127.0.0.1");
  ASSERT_TRUE(wait_until([&] { return client_.downs() == 1; }));
  EXPECT_NE(client_.down_reasons()[0].find("TLS handshake failed"), std::string::npos);
  EXPECT_EQ(server_.ups(), 0u);
}

TEST_F(TlsVerifyTest, UntrustedClientIsRefusedByTheServer) {
  listen_with(trusted_);
  auto link = dial_with(stranger_, "127.0.0.1");
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 1 && client_.downs() == 1; }));
  EXPECT_NE(server_.down_reasons()[0].find("TLS handshake failed"), std::string::npos) << server_.down_reasons()[0];
  EXPECT_EQ(client_.ups(), 0u);
  EXPECT_EQ(server_.ups(), 0u);
}

TEST_F(TlsVerifyTest, ClientWithoutCertificateIsRefused) {
  listen_with(trusted_);
  ssl::context bare(ssl::context::tls_client);
  bare.set_verify_mode(ssl::verify_none);
  auto link = dial(io_.io, listener_->port(), bare, link_options("client"), client_);
  ASSERT_TRUE(wait_until([&] { return server_.downs() == 1 && client_.downs() == 1; }));
  EXPECT_NE(server_.down_reasons()[0].find("TLS handshake failed"), std::string::npos);
  EXPECT_EQ(server_.ups(), 0u);
}

TEST_F(TlsVerifyTest, NegotiatesTls13) {
  listen_with(trusted_);
  auto peer = RawPeer::connect_tls(listener_->port(), *make_contexts(trusted_).client);
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->protocol(), "TLSv1.3");
  ASSERT_TRUE(read_challenge(*peer));
}

}  // namespace
}  // namespace portal::node::test

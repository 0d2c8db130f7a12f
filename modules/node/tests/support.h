// Test helpers for the link layer: certificates made with the OpenSSL API, an event loop on
// its own thread, recorders for link callbacks, and a hand-driven TLS peer ("raw peer") that
// speaks frames byte by byte, honestly or not.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "frame.h"
#include "handshake.h"
#include "link.h"

namespace portal::node::test {

using namespace std::chrono_literals;
namespace ssl = boost::asio::ssl;

// A temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes <name>.crt and <name>.key: self-signed, SANs localhost / 127.0.0.1, usable as
// client and server certificate and as its own CA.
TlsFiles make_cert(const std::string& dir, const std::string& name);
TlsContexts make_contexts(const TlsFiles& files);

Key test_key(char fill = 'k');

// An io_context run by one background thread until stop().
class IoThread {
 public:
  IoThread();
  ~IoThread();
  void stop();
  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

// Polls `pred` every millisecond until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s);

// Records what a link reports; hooks let a test act inside the callbacks.
class Recorder {
 public:
  Link::Callbacks callbacks();
  std::size_t ups() const;
  std::size_t downs() const;
  std::vector<std::string> down_reasons() const;
  std::shared_ptr<Link> link(std::size_t i = 0) const;  // i-th link that came up
  std::vector<pb::Event> events() const;
  void clear();

  std::function<void(const std::shared_ptr<Link>&)> on_up;
  std::function<void(const std::shared_ptr<Link>&, pb::Request&&)> on_request;
  std::function<void(const std::string&)> on_down;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<std::string> downs_;
  std::vector<pb::Event> events_;
};

LinkOptions link_options(const std::string& name, const Key& key = test_key());

// Dials 127.0.0.1:port (from `source` when given) and starts a client link.
std::shared_ptr<Link> dial(boost::asio::io_context& io, std::uint16_t port, ssl::context& tls, LinkOptions opts,
                           Recorder& rec, const std::string& expected_peer = "", const std::string& source = "");

// One TLS (or plain TCP) connection driven by hand on its own io_context.
class RawPeer {
 public:
  static std::unique_ptr<RawPeer> connect_tls(std::uint16_t port, ssl::context& tls);
  static std::unique_ptr<RawPeer> connect_tcp(std::uint16_t port);
  ~RawPeer();

  bool write(std::string_view bytes);
  bool write_frame(FrameType type, const google::protobuf::MessageLite& body);
  // The next frame, or nullopt on timeout or when the connection closed.
  std::optional<Frame> read_frame(std::chrono::milliseconds timeout = 3s);
  // True when the other side closes within `timeout`; frames read meanwhile go to `extra`.
  bool wait_closed(std::chrono::milliseconds timeout = 3s, std::vector<Frame>* extra = nullptr);
  std::string exporter();
  std::string protocol();  // "TLSv1.3"

 private:
  friend class RawServer;
  RawPeer();
  bool read_some(std::chrono::milliseconds timeout);
  // Runs one asynchronous operation: its outcome, or nullopt when it timed out.
  template <class Op>
  std::optional<boost::system::error_code> run_op(Op&& op, std::chrono::milliseconds timeout);
  template <class Op>
  bool run(Op&& op, std::chrono::milliseconds timeout) {
    auto ec = run_op(std::forward<Op>(op), timeout);
    return ec && !*ec;
  }
  boost::asio::io_context io_;
  std::unique_ptr<TlsStream> tls_;
  std::unique_ptr<Tcp::socket> tcp_;  // plain connections only
  FrameParser parser_{0xffffffffu};
  bool closed_ = false;
};

// Accepts TLS connections by hand (a fake server).
class RawServer {
 public:
  explicit RawServer(ssl::context& tls);
  std::uint16_t port() const { return port_; }
  std::unique_ptr<RawPeer> accept(std::chrono::milliseconds timeout = 3s);

 private:
  ssl::context& tls_;
  boost::asio::io_context io_;
  Tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
};

// The honest client side of the authentication, by hand, with knobs to cheat.
struct ClientAuth {
  Key key = test_key();
  std::string name = "raw";
  std::optional<std::string> nonce;  // default: a fresh random one
  bool echo_server_nonce = false;     // reflection: send the server's nonce back
};
// The peer's next frame, when it is of `type` and parses as M (nullopt otherwise).
template <class M>
std::optional<M> read_message(RawPeer& peer, FrameType type) {
  auto f = peer.read_frame();
  M m;
  if (!f || f->type != type || !m.ParseFromString(f->body)) return std::nullopt;
  return m;
}
std::optional<pb::AuthChallenge> read_challenge(RawPeer& peer);
// Builds the AUTH_RESPONSE frame (header included) for `challenge` in this peer's session.
std::string auth_response_frame(RawPeer& peer, const pb::AuthChallenge& challenge, const ClientAuth& how);
std::optional<pb::Response> read_response(RawPeer& peer);
// Challenge, response, answer: the answer the server gave (nullopt: none).
std::optional<pb::Response> authenticate(RawPeer& peer, const ClientAuth& how = {});

// A man in the middle: terminates TLS from the client with its own certificate, opens a
// second TLS session to the real server, and relays the plaintext both ways.
class TlsProxy {
 public:
  TlsProxy(std::uint16_t target_port, TlsContexts contexts);
  ~TlsProxy();
  std::uint16_t port() const { return port_; }
  std::size_t sessions() const { return sessions_; }

 private:
  void accept_next();
  TlsContexts contexts_;
  std::uint16_t target_port_;
  boost::asio::io_context io_;
  Tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> sessions_{0};
  std::thread thread_;
};

// Open file descriptors of this process.
std::size_t open_fds();

// Certificates for the whole suite, an event loop, a listener with its recorder.
class LinkFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // The loop stops before the members go: no callback runs into a destroyed recorder.
  ~LinkFixture() override { io_.stop(); }

  static TlsFiles& files();  // the suite's certificate, no CA
  static TlsContexts& tls();
  // Starts listener_ on 127.0.0.1 with server_ recording.
  void listen(LinkOptions opts = link_options("server"), Listener::Options options = {});
  // A client link to listener_ recording into client_; waits until both sides are up.
  std::shared_ptr<Link> connect(LinkOptions opts = link_options("client"));

  IoThread io_;
  Recorder server_;
  Recorder client_;
  std::shared_ptr<Listener> listener_;
};

}  // namespace portal::node::test

// The private state of a Link (link.h), shared by link.cc (reading, writing, requests,
// keepalive, shutdown) and link_auth.cc (TLS start and the handshake). Not a public header.
#pragma once

#include "link.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "portal/message.h"

namespace portal::node {

namespace asio = boost::asio;

// What link.cc and link_auth.cc share; nothing else includes this.
namespace link_impl {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 64 * 1024;
// After close() the frames already queued (the 401 of a refused handshake, answers the
// module gave just before) get this long to leave before the socket closes.
constexpr std::chrono::seconds kLinger{1};
// Spare buffers above this size are given back after use.
constexpr std::size_t kKeepCapacity = 1 << 20;
constexpr char kAuthFailed[] = "Authentication failed\n";

enum class Phase {
  tls,                  // TLS handshake running
  await_challenge,      // client: waiting for AUTH_CHALLENGE
  await_server_proof,   // client: AUTH_RESPONSE sent, waiting for the 200 with the server proof
  await_auth_response,  // server: AUTH_CHALLENGE sent, waiting for AUTH_RESPONSE
  up,
  closed,
};

inline std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

// "5" for 5000 ms, "0.3" for 300 ms: the unit of the "no frames for N s" reason.
inline std::string seconds_text(std::chrono::milliseconds d) {
  std::string s = std::to_string(d.count() / 1000);
  if (const auto frac = d.count() % 1000; frac != 0) {
    std::string digits = std::to_string(1000 + frac).substr(1);
    while (digits.back() == '0') digits.pop_back();
    s += "." + digits;
  }
  return s;
}

inline std::string read_error_text(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset)
    return "closed by peer";
  return "read failed: " + ec.message();
}

inline std::string endpoint_text(const Tcp::endpoint& ep) {
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

inline std::string_view bytes_of(const std::array<std::uint8_t, 32>& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}

}  // namespace link_impl

using namespace link_impl;

struct Link::State {
  struct Pending {
    ResponseFn done;
    std::optional<Clock::time_point> deadline;
  };

  State(Link& owner, TlsStream s, LinkOptions o, std::string expected, Callbacks callbacks);

  std::shared_ptr<Link> self() { return owner.shared_from_this(); }
  template <class F>
  auto on_strand(F&& f) {
    return asio::bind_executor(strand, std::forward<F>(f));
  }

  // Start and TLS.
  void begin();
  bool configure_client_tls();
  void on_tls(const boost::system::error_code& ec);

  // Authentication.
  void on_challenge(const Frame& f);
  void on_server_proof(const Frame& f);
  void on_auth_response(const Frame& f);
  std::string check_auth_response(const Frame& f);
  Proof proof_for(Role r) const;
  void become_up();

  // Reading.
  void start_read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void on_frame(Frame& f);
  void on_up_frame(Frame& f);
  void on_response(pb::Response&& resp);
  void on_pong(const pb::Ping& pong);

  // Writing.
  std::uint32_t body_limit() const { return phase == Phase::up ? opts.max_frame : kPreAuthMaxBody; }
  std::size_t queued_bytes() const { return pending_out.size() + (write_busy ? writing.size() : 0); }
  bool enqueue(FrameType type, const google::protobuf::MessageLite& msg);
  void start_write();
  void on_write(const boost::system::error_code& ec);

  // Requests from this side.
  void send_request(pb::Request&& req, std::chrono::milliseconds timeout, ResponseFn&& done);
  void answer_later(ResponseFn&& done, int status, std::string body);
  void add_deadline(Clock::time_point at, std::uint64_t id);
  void arm_request_timer();
  void expire_requests();

  // Keepalive.
  void arm_ping();
  void arm_dead_check();

  // Shutdown.
  void close(const std::string& why);
  void fail_pending();
  void close_socket();
  void publish_counts();

  Link& owner;
  asio::strand<asio::any_io_executor> strand;
  TlsStream stream;
  LinkOptions opts;
  std::string expected_peer;
  Callbacks cb;
  Phase phase = Phase::tls;
  FrameParser parser{kPreAuthMaxBody};
  std::unique_ptr<char[]> read_buf = std::make_unique<char[]>(kReadChunk);

  // Handshake transcript.
  std::string exporter, client_nonce, server_nonce, client_name, server_name;

  // Frames queued (pending_out) and the batch being written (writing); one write at a time.
  std::string pending_out, writing, scratch;
  bool write_busy = false;

  std::uint64_t next_id = 1;  // 0 is the handshake's answer
  std::unordered_map<std::uint64_t, Pending> requests;
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines;
  std::uint64_t ping_id = 0;
  Clock::time_point last_frame;

  asio::steady_timer handshake_timer, ping_timer, dead_timer, request_timer, linger_timer;

  // What other threads read (stats(), peer_name()).
  mutable std::mutex mu;
  LinkStats stats;
  std::string peer;
  std::string remote;
};

}  // namespace portal::node

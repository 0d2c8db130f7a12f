// One authenticated federation link: a TLS stream carrying frames (frame.h) after the
// mutual handshake (handshake.h). Requests and responses are matched by id, many in flight,
// in both directions; pings measure latency and find dead links.
//
// A Link lives on the executor of its socket (the module's event loop). Every callback runs
// there. request(), respond(), send_event() and close() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "frame.h"
#include "handshake.h"
#include "node.pb.h"

namespace portal::node {

using Tcp = boost::asio::ip::tcp;
using TlsStream = boost::asio::ssl::stream<Tcp::socket>;

// A response frame's body: `id` answered with `status` and `body`.
inline pb::Response make_response(std::uint64_t id, int status, std::string body) {
  pb::Response r;
  r.set_id(id);
  r.set_status(static_cast<std::uint32_t>(status));
  r.set_body(std::move(body));
  return r;
}

struct LinkOptions {
  std::string local_name;
  Key key;                                          // derive_key(federation_key)
  std::uint32_t max_frame = 16u << 20;              // body limit once authenticated
  std::chrono::milliseconds handshake_timeout{5000};  // TLS handshake + authentication
  std::chrono::milliseconds ping_interval{1000};
  std::chrono::milliseconds dead_after{5000};       // nothing received for this long: down
  std::size_t max_write_queue = 16u << 20;          // bytes not yet written; request() answers 503 beyond
  std::size_t max_in_flight = 4096;                 // our requests not yet answered; 503 beyond
  // Client role with certificate verification on (a CA file in the TLS context): the name or
  // address the server certificate must match; also sent as SNI when it is a name.
  std::string verify_host;
};

struct LinkStats {
  std::uint64_t msgs_sent = 0;  // requests + responses + events
  std::uint64_t msgs_recv = 0;
  std::uint64_t bytes_sent = 0;  // frame bytes, headers included
  std::uint64_t bytes_recv = 0;
  std::uint64_t errors = 0;     // requests answered 503/504 by the link itself
  std::uint64_t dropped_responses = 0;  // answers for no pending request (late, after 504)
  std::uint64_t dropped_events = 0;     // events not sent because the write queue was full
  double latency_ms = -1;       // last ping round trip; -1 before the first pong
  std::size_t in_flight = 0;
  std::size_t queued_bytes = 0;
  std::chrono::steady_clock::time_point up_since{};
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  struct Callbacks {
    std::function<void(const std::shared_ptr<Link>&)> up;  // authenticated both ways
    std::function<void(const std::shared_ptr<Link>&, pb::Request&&)> request;
    std::function<void(const std::shared_ptr<Link>&, pb::Event&&)> event;
    // Exactly once per link, whether or not it came up; `why` is for logs and status
    // ("authentication failed", "closed by peer", "no frames for 5 s", ...). Pending
    // requests have been answered 503 before it runs.
    std::function<void(const std::shared_ptr<Link>&, const std::string& why)> down;
  };
  using ResponseFn = std::function<void(pb::Response&&)>;

  // `stream` holds a connected TCP socket (the link sets TCP_NODELAY on it). The link runs
  // the TLS handshake as `role`, then the authentication. Client role: the server must call
  // itself `expected_peer` (empty: any name). Server role: the client names itself;
  // `expected_peer` is ignored.
  static std::shared_ptr<Link> start(Role role, TlsStream stream, LinkOptions opts, std::string expected_peer,
                                     Callbacks callbacks);
  ~Link();

  // Sends a request; the link assigns its id. `done` runs once on the link's executor with
  // the answer, or 503 (link down, write queue or in-flight limit full), 504 (timeout) or
  // 413 (over max_frame). It never runs inside request() itself. A timeout of zero or less
  // means none (the request still ends with the link).
  void request(pb::Request req, std::chrono::milliseconds timeout, ResponseFn done);
  // Answers a request the `request` callback received (same id). An answer over max_frame
  // is replaced by a 413; on a link that is down it is dropped.
  void respond(pb::Response resp);
  // Dropped (and counted in stats().dropped_events) when the write queue is over its limit.
  void send_event(pb::Event ev);
  // Closes the link; `down` runs with `why`.
  void close(std::string why);

  bool is_up() const { return up_.load(); }
  Role role() const { return role_; }
  // The authenticated name of the other node; empty before `up`.
  std::string peer_name() const;
  // "address:port" of the other end.
  std::string remote_address() const;
  LinkStats stats() const;

 private:
  struct State;
  Link(Role role, TlsStream stream, LinkOptions opts, std::string expected_peer, Callbacks callbacks);
  Role role_;
  std::atomic<bool> up_{false};
  std::unique_ptr<State> s_;
};

// TLS contexts for links: TLS 1.2 minimum (1.3 preferred), the node's certificate and key.
// With a CA file, both sides verify the other's certificate against it (clients also check
// LinkOptions::verify_host); without, certificates are not verified and the authentication
// alone decides.
struct TlsFiles {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;  // empty: no certificate verification
};
struct TlsContexts {
  std::shared_ptr<boost::asio::ssl::context> server;
  std::shared_ptr<boost::asio::ssl::context> client;
};
Result<TlsContexts> make_tls_contexts(const TlsFiles& files);

// Accepts links on a TCP port. At most `max_pending` connections may be in the TLS or
// authentication phase at once, and at most `max_pending_per_address` from one address;
// further connections are closed at once, so a flood of unauthenticated clients cannot
// exhaust the node. Links that come up are handed to the callbacks `make_callbacks` returns.
class Listener {
 public:
  struct Options {
    std::string bind = "0.0.0.0";
    std::uint16_t port = 9090;  // 0: any free port (tests)
    std::size_t max_pending = 64;
    std::size_t max_pending_per_address = 16;
  };
  static Result<std::shared_ptr<Listener>> start(boost::asio::io_context& io,
                                                 std::shared_ptr<boost::asio::ssl::context> server_tls,
                                                 Options options, LinkOptions link_options,
                                                 std::function<Link::Callbacks()> make_callbacks);
  ~Listener();
  std::uint16_t port() const;
  void stop();
  // Connections refused because of the pending limits, since start.
  std::uint64_t refused() const;
  // Connections now in the TLS or authentication phase.
  std::size_t pending() const;

 private:
  struct State;
  explicit Listener(std::shared_ptr<State> s);
  std::shared_ptr<State> s_;  // shared with the accept loop and the pending links' callbacks
};

}  // namespace portal::node

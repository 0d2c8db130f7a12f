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

namespace {

namespace asio = boost::asio;
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

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count());
}

// "5" for 5000 ms, "0.3" for 300 ms: the unit of the "no frames for N s" reason.
std::string seconds_text(std::chrono::milliseconds d) {
  std::string s = std::to_string(d.count() / 1000);
  if (const auto frac = d.count() % 1000; frac != 0) {
    std::string digits = std::to_string(1000 + frac).substr(1);
    while (digits.back() == '0') digits.pop_back();
    s += "." + digits;
  }
  return s;
}

std::string read_error_text(const boost::system::error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset)
    return "closed by peer";
  return "read failed: " + ec.message();
}

std::string endpoint_text(const Tcp::endpoint& ep) {
  const std::string a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

pb::Response make_response(std::uint64_t id, int status, std::string body) {
  pb::Response r;
  r.set_id(id);
  r.set_status(static_cast<std::uint32_t>(status));
  r.set_body(std::move(body));
  return r;
}

std::string_view bytes_of(const std::array<std::uint8_t, 32>& a) {
  return {reinterpret_cast<const char*>(a.data()), a.size()};
}

}  // namespace

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

Link::State::State(Link& o, TlsStream s, LinkOptions op, std::string expected, Callbacks callbacks)
    : owner(o),
      strand(asio::make_strand(s.get_executor())),
      stream(std::move(s)),
      opts(std::move(op)),
      expected_peer(std::move(expected)),
      cb(std::move(callbacks)),
      handshake_timer(strand),
      ping_timer(strand),
      dead_timer(strand),
      request_timer(strand),
      linger_timer(strand) {
  boost::system::error_code ec;
  auto& sock = stream.lowest_layer();
  const auto ep = sock.remote_endpoint(ec);
  remote = ec ? std::string("unknown") : endpoint_text(ep);
  // Requests are small and latency counts: never wait for Nagle.
  sock.set_option(Tcp::no_delay(true), ec);
}

// ---- Start and TLS ----

void Link::State::begin() {
  if (phase == Phase::closed) return;  // closed before it started
  handshake_timer.expires_after(opts.handshake_timeout);
  handshake_timer.async_wait([self = self()](const boost::system::error_code& ec) {
    if (!ec && self->s_->phase != Phase::up) self->s_->close("handshake timeout");
  });
  if (!stream.lowest_layer().is_open()) return close("not connected");
  if (owner.role_ == Role::client && !configure_client_tls()) return close("cannot set the TLS peer name");
  const auto type = owner.role_ == Role::client ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
  stream.async_handshake(type, on_strand([self = self()](const boost::system::error_code& ec) {
    self->s_->on_tls(ec);
  }));
}

// SNI for a DNS name; with verification on, the certificate must match verify_host.
bool Link::State::configure_client_tls() {
  if (opts.verify_host.empty()) return true;
  SSL* ssl = stream.native_handle();
  const bool verify = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;
  boost::system::error_code ec;
  asio::ip::make_address(opts.verify_host, ec);
  const char* host = opts.verify_host.c_str();
  if (!ec) return !verify || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
  if (SSL_set_tlsext_host_name(ssl, host) != 1) return false;
  return !verify || SSL_set1_host(ssl, host) == 1;
}

void Link::State::on_tls(const boost::system::error_code& ec) {
  if (phase == Phase::closed) return;
  if (ec) return close("TLS handshake failed: " + ec.message());
  exporter = tls_exporter(stream.native_handle());
  if (exporter.empty()) return close("TLS session cannot export a channel binding");
  if (owner.role_ == Role::server) {
    server_name = opts.local_name;
    server_nonce = std::string(bytes_of(random_nonce()));
    pb::AuthChallenge challenge;
    challenge.set_nonce(server_nonce);
    challenge.set_node(server_name);
    phase = Phase::await_auth_response;
    if (!enqueue(FrameType::auth_challenge, challenge)) return close("local node name too long");
  } else {
    client_name = opts.local_name;
    phase = Phase::await_challenge;
  }
  start_read();
}

// ---- Authentication ----

Proof Link::State::proof_for(Role r) const {
  return proof(opts.key, r, Transcript{client_nonce, server_nonce, client_name, server_name, exporter});
}

void Link::State::on_challenge(const Frame& f) {
  pb::AuthChallenge challenge;
  if (f.type != FrameType::auth_challenge || !challenge.ParseFromString(f.body))
    return close("authentication failed: no challenge");
  if (challenge.nonce().size() != std::tuple_size_v<Nonce> || !valid_node_name(challenge.node()))
    return close("authentication failed: malformed challenge");
  if (!expected_peer.empty() && challenge.node() != expected_peer)
    return close("authentication failed: the server calls itself '" + challenge.node() + "', expected '" +
                 expected_peer + "'");
  server_nonce = challenge.nonce();
  server_name = challenge.node();
  client_nonce = std::string(bytes_of(random_nonce()));
  const Proof p = proof_for(Role::client);
  pb::AuthResponse response;
  response.set_nonce(client_nonce);
  response.set_node(client_name);
  response.set_proof(std::string(bytes_of(p)));
  phase = Phase::await_server_proof;
  if (!enqueue(FrameType::auth_response, response)) close("local node name too long");
}

void Link::State::on_server_proof(const Frame& f) {
  pb::Response answer;
  if (f.type != FrameType::response || !answer.ParseFromString(f.body) || answer.id() != 0)
    return close("authentication failed: unexpected frame from the server");
  if (answer.status() == status::unauthorized) return close("authentication refused by peer");
  if (answer.status() != status::ok || !equal_ct(answer.body(), bytes_of(proof_for(Role::server))))
    return close("authentication failed: the server's proof is wrong");
  become_up();
}

void Link::State::on_auth_response(const Frame& f) {
  if (std::string failure = check_auth_response(f); !failure.empty()) {
    // One answer for every reason, so a prober learns nothing; the reason goes to the log.
    enqueue(FrameType::response, make_response(0, status::unauthorized, kAuthFailed));
    return close("authentication failed: " + failure);
  }
  if (!enqueue(FrameType::response, make_response(0, status::ok, std::string(bytes_of(proof_for(Role::server))))))
    return close("cannot send the server proof");
  become_up();
}

// Empty when the client proved it holds the key in this TLS session; otherwise the reason.
std::string Link::State::check_auth_response(const Frame& f) {
  pb::AuthResponse r;
  if (f.type != FrameType::auth_response) return "unexpected frame type";
  if (!r.ParseFromString(f.body)) return "malformed response";
  if (r.nonce().size() != std::tuple_size_v<Nonce>) return "bad nonce size";
  if (r.nonce() == server_nonce) return "client nonce equals the server nonce (reflection)";
  if (!valid_node_name(r.node())) return "invalid node name";
  client_nonce = r.nonce();
  client_name = r.node();
  if (!equal_ct(r.proof(), bytes_of(proof_for(Role::client)))) return "wrong proof from '" + client_name + "'";
  return {};
}

void Link::State::become_up() {
  phase = Phase::up;
  parser.set_max_body(opts.max_frame);
  handshake_timer.cancel();
  last_frame = Clock::now();
  {
    std::lock_guard lock(mu);
    peer = owner.role_ == Role::client ? server_name : client_name;
    stats.up_since = last_frame;
  }
  owner.up_ = true;
  arm_ping();
  arm_dead_check();
  if (cb.up) cb.up(self());
}

// ---- Reading ----

void Link::State::start_read() {
  stream.async_read_some(asio::buffer(read_buf.get(), kReadChunk),
                         on_strand([self = self()](const boost::system::error_code& ec, std::size_t n) {
                           self->s_->on_read(ec, n);
                         }));
}

void Link::State::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (phase == Phase::closed) return;
  if (ec) return close(read_error_text(ec));
  {
    std::lock_guard lock(mu);
    stats.bytes_recv += n;
  }
  if (!parser.feed({read_buf.get(), n})) return close("protocol error: " + parser.error());
  while (phase != Phase::closed) {
    std::optional<Frame> f = parser.next();
    if (!f) break;
    on_frame(*f);
  }
  if (phase == Phase::closed) return;
  if (!parser.error().empty()) return close("protocol error: " + parser.error());
  start_read();
}

void Link::State::on_frame(Frame& f) {
  last_frame = Clock::now();
  switch (phase) {
    case Phase::await_challenge: return on_challenge(f);
    case Phase::await_server_proof: return on_server_proof(f);
    case Phase::await_auth_response: return on_auth_response(f);
    case Phase::up: return on_up_frame(f);
    case Phase::tls:
    case Phase::closed: return;
  }
}

void Link::State::on_up_frame(Frame& f) {
  switch (f.type) {
    case FrameType::request: {
      pb::Request req;
      if (!req.ParseFromString(f.body)) return close("protocol error: malformed request");
      {
        std::lock_guard lock(mu);
        ++stats.msgs_recv;
      }
      if (cb.request) return cb.request(self(), std::move(req));
      enqueue(FrameType::response, make_response(req.id(), status::unavailable, "Requests not accepted\n"));
      return;
    }
    case FrameType::response: {
      pb::Response resp;
      if (!resp.ParseFromString(f.body)) return close("protocol error: malformed response");
      return on_response(std::move(resp));
    }
    case FrameType::event: {
      pb::Event ev;
      if (!ev.ParseFromString(f.body)) return close("protocol error: malformed event");
      {
        std::lock_guard lock(mu);
        ++stats.msgs_recv;
      }
      if (cb.event) cb.event(self(), std::move(ev));
      return;
    }
    case FrameType::ping: {
      pb::Ping ping;
      if (!ping.ParseFromString(f.body)) return close("protocol error: malformed ping");
      enqueue(FrameType::pong, ping);
      return;
    }
    case FrameType::pong: {
      pb::Ping pong;
      if (!pong.ParseFromString(f.body)) return close("protocol error: malformed pong");
      return on_pong(pong);
    }
    case FrameType::auth_challenge:
    case FrameType::auth_response: return close("protocol error: handshake frame on an authenticated link");
  }
}

void Link::State::on_response(pb::Response&& resp) {
  auto it = requests.find(resp.id());
  if (it == requests.end()) {
    std::lock_guard lock(mu);
    ++stats.dropped_responses;
    return;
  }
  if (it->second.deadline) deadlines.erase({*it->second.deadline, it->first});
  ResponseFn done = std::move(it->second.done);
  requests.erase(it);
  {
    std::lock_guard lock(mu);
    ++stats.msgs_recv;
    stats.in_flight = requests.size();
  }
  done(std::move(resp));
}

void Link::State::on_pong(const pb::Ping& pong) {
  const std::uint64_t now = now_us();
  if (pong.sent_us() > now) return;
  std::lock_guard lock(mu);
  stats.latency_ms = static_cast<double>(now - pong.sent_us()) / 1000.0;
}

// ---- Writing ----

// Appends one frame to the queue; false when the body is over the limit of this phase.
bool Link::State::enqueue(FrameType type, const google::protobuf::MessageLite& msg) {
  if (msg.ByteSizeLong() > body_limit()) return false;
  msg.SerializeToString(&scratch);
  const std::size_t before = pending_out.size();
  append_frame(pending_out, type, scratch);
  if (scratch.capacity() > kKeepCapacity) std::string().swap(scratch);
  {
    std::lock_guard lock(mu);
    stats.bytes_sent += pending_out.size() - before;
    if (type == FrameType::request || type == FrameType::response || type == FrameType::event) ++stats.msgs_sent;
  }
  start_write();
  publish_counts();
  return true;
}

// Everything queued since the last write goes out in one async_write: many small frames
// cost one TLS record sequence and one system call, not one each.
void Link::State::start_write() {
  if (write_busy || pending_out.empty()) return;
  writing.swap(pending_out);
  pending_out.clear();
  write_busy = true;
  asio::async_write(stream, asio::buffer(writing), on_strand([self = self()](const boost::system::error_code& ec, std::size_t) {
                      self->s_->on_write(ec);
                    }));
}

void Link::State::on_write(const boost::system::error_code& ec) {
  write_busy = false;
  if (writing.capacity() > kKeepCapacity)
    std::string().swap(writing);
  else
    writing.clear();
  publish_counts();
  if (phase == Phase::closed) {
    if (ec || pending_out.empty()) return close_socket();
    return start_write();
  }
  if (ec) return close("write failed: " + ec.message());
  start_write();
}

// ---- Requests from this side ----

void Link::State::send_request(pb::Request&& req, std::chrono::milliseconds timeout, ResponseFn&& done) {
  if (phase != Phase::up) return answer_later(std::move(done), status::unavailable, "Link down\n");
  if (requests.size() >= opts.max_in_flight)
    return answer_later(std::move(done), status::unavailable, "Too many requests in flight on the link\n");
  if (queued_bytes() > opts.max_write_queue)
    return answer_later(std::move(done), status::unavailable, "Link write queue full\n");
  const std::uint64_t id = next_id++;
  req.set_id(id);
  if (!enqueue(FrameType::request, req))
    return answer_later(std::move(done), status::payload_too_large, "Request too large for the link\n");
  Pending& p = requests[id];
  p.done = std::move(done);
  if (timeout.count() > 0) {
    p.deadline = Clock::now() + timeout;
    add_deadline(*p.deadline, id);
  }
  publish_counts();
}

// The link's own answers never run inside request(): the caller may hold locks there.
void Link::State::answer_later(ResponseFn&& done, int status, std::string body) {
  {
    std::lock_guard lock(mu);
    ++stats.errors;
  }
  asio::post(strand, [done = std::move(done), resp = make_response(0, status, std::move(body))]() mutable {
    done(std::move(resp));
  });
}

void Link::State::add_deadline(Clock::time_point at, std::uint64_t id) {
  const bool earliest = deadlines.empty() || at < deadlines.begin()->first;
  deadlines.emplace(at, id);
  if (earliest) arm_request_timer();
}

// One timer for all requests, set to the earliest deadline.
void Link::State::arm_request_timer() {
  request_timer.expires_at(deadlines.begin()->first);
  request_timer.async_wait([self = self()](const boost::system::error_code& ec) {
    if (!ec) self->s_->expire_requests();
  });
}

void Link::State::expire_requests() {
  if (phase == Phase::closed) return;
  const auto now = Clock::now();
  while (!deadlines.empty() && deadlines.begin()->first <= now) {
    const std::uint64_t id = deadlines.begin()->second;
    deadlines.erase(deadlines.begin());
    auto it = requests.find(id);
    if (it == requests.end()) continue;
    ResponseFn done = std::move(it->second.done);
    requests.erase(it);
    {
      std::lock_guard lock(mu);
      ++stats.errors;
    }
    publish_counts();
    done(make_response(id, status::gateway_timeout, "Timeout\n"));
  }
  if (!deadlines.empty() && phase != Phase::closed) arm_request_timer();
}

// ---- Keepalive ----

void Link::State::arm_ping() {
  ping_timer.expires_after(opts.ping_interval);
  ping_timer.async_wait([self = self()](const boost::system::error_code& ec) {
    State& s = *self->s_;
    if (ec || s.phase != Phase::up) return;
    pb::Ping ping;
    ping.set_id(++s.ping_id);
    ping.set_sent_us(now_us());
    s.enqueue(FrameType::ping, ping);
    s.arm_ping();
  });
}

// Fires at last_frame + dead_after; a frame that came since pushes the check further.
void Link::State::arm_dead_check() {
  dead_timer.expires_at(last_frame + opts.dead_after);
  dead_timer.async_wait([self = self()](const boost::system::error_code& ec) {
    State& s = *self->s_;
    if (ec || s.phase != Phase::up) return;
    if (Clock::now() - s.last_frame >= s.opts.dead_after)
      return s.close("no frames for " + seconds_text(s.opts.dead_after) + " s");
    s.arm_dead_check();
  });
}

// ---- Shutdown ----

void Link::State::close(const std::string& why) {
  if (phase == Phase::closed) return;
  phase = Phase::closed;
  owner.up_ = false;
  handshake_timer.cancel();
  ping_timer.cancel();
  dead_timer.cancel();
  request_timer.cancel();
  fail_pending();
  if (cb.down) cb.down(self(), why);
  // The callbacks may hold the link (a cycle); they go once the current one has returned.
  asio::post(strand, [self = self()] { self->s_->cb = Callbacks{}; });
  if (!write_busy && pending_out.empty()) return close_socket();
  start_write();
  linger_timer.expires_after(kLinger);
  linger_timer.async_wait([self = self()](const boost::system::error_code& ec) {
    if (!ec) self->s_->close_socket();
  });
}

void Link::State::fail_pending() {
  auto pending = std::move(requests);
  requests.clear();
  deadlines.clear();
  {
    std::lock_guard lock(mu);
    stats.errors += pending.size();
  }
  publish_counts();
  for (auto& [id, p] : pending) p.done(make_response(id, status::unavailable, "Link down\n"));
}

void Link::State::close_socket() {
  linger_timer.cancel();
  boost::system::error_code ignored;
  stream.lowest_layer().shutdown(Tcp::socket::shutdown_both, ignored);
  stream.lowest_layer().close(ignored);
}

void Link::State::publish_counts() {
  std::lock_guard lock(mu);
  stats.in_flight = requests.size();
  stats.queued_bytes = queued_bytes();
}

// ---- Link ----

Link::Link(Role role, TlsStream stream, LinkOptions opts, std::string expected_peer, Callbacks callbacks)
    : role_(role),
      s_(std::make_unique<State>(*this, std::move(stream), std::move(opts), std::move(expected_peer),
                                 std::move(callbacks))) {}

Link::~Link() = default;

std::shared_ptr<Link> Link::start(Role role, TlsStream stream, LinkOptions opts, std::string expected_peer,
                                  Callbacks callbacks) {
  std::shared_ptr<Link> link(
      new Link(role, std::move(stream), std::move(opts), std::move(expected_peer), std::move(callbacks)));
  asio::post(link->s_->strand, [link] { link->s_->begin(); });
  return link;
}

void Link::request(pb::Request req, std::chrono::milliseconds timeout, ResponseFn done) {
  asio::dispatch(s_->strand, [self = shared_from_this(), req = std::move(req), timeout, done = std::move(done)]() mutable {
    self->s_->send_request(std::move(req), timeout, std::move(done));
  });
}

void Link::respond(pb::Response resp) {
  asio::dispatch(s_->strand, [self = shared_from_this(), resp = std::move(resp)]() mutable {
    State& s = *self->s_;
    if (s.phase != Phase::up) return;
    if (!s.enqueue(FrameType::response, resp))
      s.enqueue(FrameType::response, make_response(resp.id(), status::payload_too_large, "Response too large for the link\n"));
  });
}

void Link::send_event(pb::Event ev) {
  asio::dispatch(s_->strand, [self = shared_from_this(), ev = std::move(ev)]() mutable {
    State& s = *self->s_;
    if (s.phase != Phase::up) return;
    // An event has no answer to carry a 503: under back-pressure it is dropped and counted.
    if (s.queued_bytes() <= s.opts.max_write_queue && s.enqueue(FrameType::event, ev)) return;
    std::lock_guard lock(s.mu);
    ++s.stats.dropped_events;
  });
}

void Link::close(std::string why) {
  asio::dispatch(s_->strand, [self = shared_from_this(), why = std::move(why)] { self->s_->close(why); });
}

std::string Link::peer_name() const {
  std::lock_guard lock(s_->mu);
  return s_->peer;
}

std::string Link::remote_address() const { return s_->remote; }

LinkStats Link::stats() const {
  std::lock_guard lock(s_->mu);
  return s_->stats;
}

}  // namespace portal::node

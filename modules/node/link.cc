#include "link_state.h"

namespace portal::node {

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

#include "connection.h"

#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include "frame_codec.h"

namespace portal::ctl {

namespace {

// Reading pauses while this many response bytes wait for a client that does not read.
constexpr std::size_t kMaxQueuedBytes = 16u << 20;
// Frames handed to one gathered write.
constexpr std::size_t kMaxWriteBatch = 64;
// A buffer this large is released once empty rather than kept for the next frame.
constexpr std::size_t kKeepBufferBytes = 1u << 20;
// With idle_timeout_ms = 0 the timer only wakes up to notice a configuration change.
constexpr std::chrono::seconds kIdleRecheck{60};

}  // namespace

Connection::Connection(std::shared_ptr<ServerShared> shared, Socket socket, std::uint64_t serial)
    : shared_(std::move(shared)),
      token_(shared_),
      socket_(std::move(socket)),
      idle_timer_(shared_->io),
      serial_(serial),
      chunk_(std::make_unique<std::array<char, 64 * 1024>>()) {}

Connection::~Connection() { close(); }

void Connection::start() {
  // Who connected (SO_PEERCRED): the source the router's failed-login throttle counts.
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0)
    source_ = "uid:" + std::to_string(peer.uid);
  ++shared_->clients;
  counted_ = true;
  last_activity_ = Clock::now();
  const std::int64_t idle = shared_->idle_ms.load();
  arm_idle_timer(idle > 0 ? Clock::duration(std::chrono::milliseconds(idle)) : kIdleRecheck);
  read_more();
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(Socket::shutdown_both, ignored);
  socket_.close(ignored);
  idle_timer_.cancel();
  outq_.clear();
  std::string().swap(inbuf_);
  inpos_ = 0;
  if (counted_) --shared_->clients;
  shared_->live.erase(serial_);
}

void Connection::warn_and_close(const std::string& why) {
  shared_->client_warning(name() + ": " + why + "; closing the connection");
  close();
}

// --- reading ----------------------------------------------------------------------------

bool Connection::paused() const {
  return in_flight_ >= shared_->max_pending.load() || out_bytes_ >= kMaxQueuedBytes;
}

void Connection::read_more() {
  if (closed_ || reading_ || peer_eof_ || paused()) return;
  reading_ = true;
  socket_.async_read_some(boost::asio::buffer(*chunk_),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  reading_ = false;
  shared_->note_io_thread();
  if (closed_) return;
  if (ec == boost::asio::error::eof) return on_peer_eof();
  if (ec) {
    shared_->log(LogLevel::debug, name() + ": read failed: " + ec.message());
    return close();
  }
  last_activity_ = Clock::now();
  inbuf_.append(chunk_->data(), n);
  process_input();
  read_more();
}

// The client shut down its writing side (or left): answer what it already asked, then close.
// A partial frame it left behind is dropped.
void Connection::on_peer_eof() {
  peer_eof_ = true;
  std::string().swap(inbuf_);
  inpos_ = 0;
  finish_if_done();
}

void Connection::process_input() {
  if (processing_) return;  // a response completed inside dispatch(): the outer loop goes on
  processing_ = true;
  while (!closed_ && !paused() && take_frame()) {
  }
  processing_ = false;
  if (!closed_) compact_input();
}

// Dispatches the next complete frame of inbuf_; false when there is none (yet).
bool Connection::take_frame() {
  const std::size_t avail = inbuf_.size() - inpos_;
  if (avail < kFrameHeaderBytes) return false;
  const std::uint32_t len = read_frame_length(inbuf_.data() + inpos_);
  const std::uint32_t max = shared_->max_frame.load();
  if (len > max) {
    warn_and_close("frame of " + std::to_string(len) + " bytes exceeds max_frame (" + std::to_string(max) + ")");
    return false;
  }
  if (avail - kFrameHeaderBytes < len) return false;
  std::string_view payload(inbuf_.data() + inpos_ + kFrameHeaderBytes, len);
  inpos_ += kFrameHeaderBytes + len;
  dispatch(payload);  // inbuf_ is left alone until the loop ends
  return true;
}

void Connection::compact_input() {
  if (inpos_ == inbuf_.size()) {
    if (inbuf_.capacity() > kKeepBufferBytes)
      std::string().swap(inbuf_);
    else
      inbuf_.clear();
    inpos_ = 0;
  } else if (inpos_ > 0 && inpos_ >= inbuf_.size() / 2) {
    inbuf_.erase(0, inpos_);
    inpos_ = 0;
  }
}

void Connection::dispatch(std::string_view payload) {
  Result<RequestFrame> req = decode_request(payload);
  if (!req) return warn_and_close("unparsable frame (" + req.error().message + ")");
  ++shared_->requests;
  if (!req->method_known) {
    queue_frame(encode_response(req->id, respond(status::bad_request,
                                                 "Unknown method " + std::to_string(req->method_value) + "\n")));
    return;
  }
  ++in_flight_;
  const std::uint64_t id = req->id;
  req->message.ctx.credentials.source = source_;  // never the client's own say
  shared_->core.send_async(
      std::move(req->message), [weak = weak_from_this(), shared = shared_, id](Response response) {
        shared->run_on_io([weak, id, response = std::move(response)]() mutable {
          if (auto self = weak.lock()) self->on_response(id, std::move(response));
        });
      });
}

void Connection::on_response(std::uint64_t id, Response response) {
  --in_flight_;
  if (closed_) return;
  queue_frame(encode_response(id, response));
  resume();
}

// --- writing ----------------------------------------------------------------------------

void Connection::queue_frame(std::string frame) {
  out_bytes_ += frame.size();
  outq_.push_back(std::move(frame));
  write_more();
}

void Connection::write_more() {
  if (closed_ || write_active_ || outq_.empty()) return;
  write_buffers_.clear();
  while (!outq_.empty() && writing_.size() < kMaxWriteBatch) {
    writing_.push_back(std::move(outq_.front()));
    outq_.pop_front();
    write_buffers_.push_back(boost::asio::buffer(writing_.back()));
  }
  write_active_ = true;
  auto self = shared_from_this();
  // The completion condition runs after every partial write: a slow reader that keeps
  // reading is not idle.
  auto progress = [this](const boost::system::error_code& ec, std::size_t) -> std::size_t {
    last_activity_ = Clock::now();
    return ec ? 0 : 64 * 1024;
  };
  boost::asio::async_write(socket_, write_buffers_, progress,
                           [self](const boost::system::error_code& ec, std::size_t) { self->on_write(ec); });
}

void Connection::on_write(const boost::system::error_code& ec) {
  write_active_ = false;
  shared_->note_io_thread();
  for (const std::string& f : writing_) out_bytes_ -= f.size();
  writing_.clear();
  if (closed_) return;
  if (ec) {
    shared_->log(LogLevel::debug, name() + ": write failed: " + ec.message());
    return close();
  }
  write_more();
  resume();
  finish_if_done();
}

void Connection::resume() {
  if (closed_ || paused()) return;
  process_input();
  read_more();
}

void Connection::finish_if_done() {
  if (peer_eof_ && in_flight_ == 0 && outq_.empty() && !write_active_) close();
}

// --- idle timeout -----------------------------------------------------------------------

void Connection::arm_idle_timer(Clock::duration after) {
  idle_timer_.expires_after(after);
  idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->on_idle_timer();
  });
}

void Connection::on_idle_timer() {
  if (closed_) return;
  const std::chrono::milliseconds idle(shared_->idle_ms.load());
  if (idle.count() <= 0) return arm_idle_timer(kIdleRecheck);
  const Clock::duration since = Clock::now() - last_activity_;
  if (since < idle) return arm_idle_timer(idle - since);
  // Waiting for the router, not for the client: not idle (the router always answers).
  if (in_flight_ > 0 && !write_active_ && outq_.empty()) return arm_idle_timer(idle);
  shared_->log(LogLevel::info, name() + ": idle for " + std::to_string(idle.count()) + " ms; closing the connection");
  close();
}

}  // namespace portal::ctl

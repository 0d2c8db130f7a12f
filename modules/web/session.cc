#include "session.h"

#include <algorithm>
#include <type_traits>

#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "http_mapping.h"
#include "sse.h"

namespace portal::web {

namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

// After an error answer the client may still be sending: its bytes are read and dropped for
// this long, so that closing does not reset the connection before it has read the answer.
constexpr std::chrono::milliseconds kLingerTime{1000};
// An event-stream client that lets this much pile up is dropped.
constexpr std::size_t kMaxQueuedEventBytes = 4u << 20;

bool is_http_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

}  // namespace

template <class Stream>
Session<Stream>::Session(std::shared_ptr<ServerShared> shared, LoopSocket sock, std::uint64_t serial)
    : shared_(std::move(shared)),
      token_(shared_),
      stream_([&]() -> Stream {
        if constexpr (std::is_same_v<Stream, TlsStream>)
          return Stream(std::move(sock), *shared_->tls);
        else
          return Stream(std::move(sock));
      }()),
      serial_(serial),
      keepalive_timer_(shared_->io),
      stall_timer_(shared_->io) {
  error_code ec;
  auto ep = socket().remote_endpoint(ec);
  source_ = ec ? std::string("unknown") : ep.address().to_string();
  ++shared_->connections;
}

template <class Stream>
Session<Stream>::~Session() {
  close();
}

template <class Stream>
void Session<Stream>::start() {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    expire_after(shared_->settings.header_timeout);
    auto on_handshake = [self = this->shared_from_this()](const error_code& ec) {
      self->shared_->note_io_thread();
      if (self->closed_) return;
      if (ec) {
        self->shared_->log(LogLevel::debug, self->name() + ": TLS handshake failed: " + ec.message());
        return self->close();
      }
      self->next_request();
    };
    stream_.async_handshake(boost::asio::ssl::stream_base::server, std::move(on_handshake));
  } else {
    next_request();
  }
}

template <class Stream>
void Session<Stream>::close() {
  if (closed_) return;
  closed_ = true;
  if (subscription_) shared_->core.unsubscribe(*subscription_);
  subscription_.reset();
  error_code ignored;
  keepalive_timer_.cancel();
  stall_timer_.cancel();
  socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
  events_.clear();
  --shared_->connections;
  shared_->live.erase(serial_);
}

// --- requests -------------------------------------------------------------------------------

// The first request of a connection must arrive within header_timeout; later ones within
// idle_timeout, and then their header within header_timeout of their first byte.
template <class Stream>
void Session<Stream>::next_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(shared_->settings.max_header));
  parser_->body_limit(shared_->settings.max_body);
  if (first_ || buffer_.size() > 0) {
    first_ = false;
    return read_header();
  }
  expire_after(shared_->settings.idle_timeout);
  auto on_first_bytes = [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
    self->shared_->note_io_thread();
    if (self->closed_) return;
    if (ec) return self->close();  // gone or idle
    self->buffer_.commit(n);
    self->read_header();
  };
  stream_.async_read_some(buffer_.prepare(4096), std::move(on_first_bytes));
}

template <class Stream>
void Session<Stream>::read_header() {
  expire_after(shared_->settings.header_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_header(ec); });
}

template <class Stream>
void Session<Stream>::on_header(const error_code& ec) {
  shared_->note_io_thread();
  if (closed_) return;
  if (ec) return on_parse_error(ec);
  HttpRequest& req = parser_->get();
  if (req.target().size() > shared_->settings.max_uri) {
    shared_->client_warning(name() + ": request target longer than max_uri");
    return send(error_response(shared_->settings, 414, "URI too long (at most " +
                                                           std::to_string(shared_->settings.max_uri) + " bytes)\n"));
  }
  auto expect = req.find(http::field::expect);
  if (expect != req.end() && boost::beast::iequals(expect->value(), "100-continue") && !parser_->is_done()) {
    auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    expire_after(shared_->settings.idle_timeout);
    http::async_write(stream_, *cont, [self = this->shared_from_this(), cont](const error_code& e, std::size_t) {
      self->shared_->note_io_thread();
      if (self->closed_) return;
      if (e) return self->close();
      self->read_body();
    });
    return;
  }
  read_body();
}

// The body arrives piece by piece; each piece must come within idle_timeout.
template <class Stream>
void Session<Stream>::read_body() {
  if (parser_->is_done()) return dispatch();
  expire_after(shared_->settings.idle_timeout);
  http::async_read_some(stream_, buffer_, *parser_,
                        [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_body(ec); });
}

template <class Stream>
void Session<Stream>::on_body(const error_code& ec) {
  shared_->note_io_thread();
  if (closed_) return;
  if (ec) return on_parse_error(ec);
  read_body();
}

template <class Stream>
void Session<Stream>::on_parse_error(const error_code& ec) {
  const Settings& s = shared_->settings;
  if (ec == http::error::body_limit)
    return send(error_response(s, 413, "Request body too large (at most " + std::to_string(s.max_body) + " bytes)\n"));
  if (ec == http::error::header_limit) {
    // A request line that alone exceeds max_uri is a long URI; otherwise too many headers.
    // Beast consumes the request line once it has it: then the target is known.
    const std::size_t target = parser_->get().target().size();
    const std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    const std::size_t line = target > 0 ? target : std::min(data.find("\r\n"), data.size());
    if (line > s.max_uri)
      return send(error_response(s, 414, "URI too long (at most " + std::to_string(s.max_uri) + " bytes)\n"));
    return send(error_response(s, 431, "Request headers too large (at most " + std::to_string(s.max_header) +
                                           " bytes)\n"));
  }
  if (is_http_error(ec)) {
    shared_->client_warning(name() + ": malformed request (" + ec.message() + ")");
    return send(error_response(s, 400, "Malformed HTTP request: " + ec.message() + "\n"));
  }
  if (ec == boost::beast::error::timeout)
    shared_->client_warning(name() + ": request not received in time; closing the connection");
  close();  // gone, timed out, or a socket error
}

template <class Stream>
void Session<Stream>::dispatch() {
  ++shared_->requests;
  HttpRequest& req = parser_->get();
  keep_alive_ = req.keep_alive();
  Plan plan = plan_request(shared_->settings, req, source_);
  json_ = plan.json;
  head_ = plan.head;
  auto self = this->shared_from_this();
  switch (plan.kind) {
    case Plan::Kind::reply:
      return on_response(std::move(plan.reply), {});
    case Plan::Kind::index: {
      Message m = make_message(Method::get, "/core/paths");
      m.ctx.credentials = std::move(plan.message.ctx.credentials);
      shared_->core.send_async(std::move(m), [self](Response r) {
        self->shared_->run_on_io([self, r = std::move(r)]() mutable { self->on_index(std::move(r)); });
      });
      return;
    }
    case Plan::Kind::events:
      return subscribe(std::move(plan.pattern), std::move(plan.message.ctx.credentials));
    case Plan::Kind::forward: {
      std::string path = plan.message.path;
      shared_->core.send_async(std::move(plan.message), [self, path = std::move(path)](Response r) mutable {
        self->shared_->run_on_io([self, path = std::move(path), r = std::move(r)]() mutable {
          self->on_response(std::move(r), std::move(path));
        });
      });
      return;
    }
  }
}

template <class Stream>
void Session<Stream>::on_index(Response r) {
  if (r.ok()) r.body = render_index(r.body, shared_->settings.api_prefix);
  on_response(std::move(r), {});
}

template <class Stream>
void Session<Stream>::on_response(Response r, std::string path) {
  if (closed_) return;
  send(build_response(shared_->settings, std::move(r), path, json_, head_, keep_alive_));
}

// The head goes into a buffer the session keeps (its capacity serves every response of the
// connection); head and body leave in one write.
template <class Stream>
void Session<Stream>::send(HttpResponse res) {
  out_.emplace(std::move(res));
  const bool keep_alive = out_->keep_alive();
  write_head(*out_, head_text_);
  expire_after(shared_->settings.idle_timeout);
  const std::array<boost::asio::const_buffer, 2> bufs{boost::asio::buffer(head_text_),
                                                      boost::asio::buffer(out_->body())};
  boost::asio::async_write(stream_, bufs,
                           [self = this->shared_from_this(), keep_alive](const error_code& ec, std::size_t) {
                             self->on_sent(ec, keep_alive);
                           });
}

template <class Stream>
void Session<Stream>::on_sent(const error_code& ec, bool keep_alive) {
  shared_->note_io_thread();
  out_.reset();
  if (closed_) return;
  if (ec) return close();
  if (!keep_alive) return lingering_close();
  next_request();
}

// Half-closes, then reads and drops what the client still sends until it closes or
// kLingerTime passes (beneath TLS: the bytes are dropped, not decrypted).
template <class Stream>
void Session<Stream>::lingering_close() {
  error_code ignored;
  socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  stall_timer_.expires_after(kLingerTime);
  stall_timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
    if (!ec) self->close();
  });
  watch_peer();
}

// --- events ---------------------------------------------------------------------------------

template <class Stream>
void Session<Stream>::subscribe(std::string pattern, Credentials credentials) {
  auto weak = this->weak_from_this();
  auto shared = shared_;
  shared_->core.subscribe_as(
      std::move(pattern), std::move(credentials),
      [weak, shared](const Event& ev) {
        shared->run_on_io([weak, text = format_sse(ev)]() mutable {
          if (auto s = weak.lock()) s->push_event(std::move(text));
        });
      },
      [self = this->shared_from_this()](Result<SubscriptionId> r) {
        self->shared_->run_on_io([self, r = std::move(r)]() mutable { self->on_subscribed(std::move(r)); });
      });
}

template <class Stream>
void Session<Stream>::on_subscribed(Result<SubscriptionId> r) {
  if (closed_) {
    if (r) shared_->core.unsubscribe(*r);
    return;
  }
  if (!r) {  // the runtime reports the router's refusal without its trailing newline
    std::string why = r.error().message;
    if (why.empty() || why.back() != '\n') why += '\n';
    return on_response(respond(r.error().code, std::move(why)), {});
  }
  subscription_ = *r;
  streaming_ = true;
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
  if (!shared_->settings.cors_origin.empty())
    head += "Access-Control-Allow-Origin: " + shared_->settings.cors_origin + "\r\n";
  head += "Connection: close\r\n\r\n";
  // The stream ends when the client goes: stop the stream's own timeouts, watch the socket.
  boost::beast::get_lowest_layer(stream_).expires_never();
  push_event(std::move(head));
  arm_keepalive();
  watch_peer();
}

template <class Stream>
void Session<Stream>::push_event(std::string text) {
  if (closed_ || !streaming_) return;
  queued_bytes_ += text.size();
  if (queued_bytes_ > kMaxQueuedEventBytes) {
    shared_->client_warning(name() + ": event stream client does not read; closing the connection");
    return close();
  }
  events_.push_back(std::move(text));
  write_events();
}

template <class Stream>
void Session<Stream>::write_events() {
  if (closed_ || event_write_active_ || events_.empty()) return;
  writing_ = std::move(events_.front());
  events_.pop_front();
  event_write_active_ = true;
  // A write that makes no progress for idle_timeout drops the client.
  stall_timer_.expires_after(shared_->settings.idle_timeout);
  stall_timer_.async_wait([weak = this->weak_from_this()](const error_code& ec) {
    if (auto s = weak.lock(); s && !ec && s->event_write_active_) s->close();
  });
  boost::asio::async_write(stream_, boost::asio::buffer(writing_),
                           [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                             self->shared_->note_io_thread();
                             self->event_write_active_ = false;
                             self->queued_bytes_ -= self->writing_.size();
                             self->stall_timer_.cancel();
                             if (self->closed_) return;
                             if (ec) return self->close();
                             self->write_events();
                           });
}

template <class Stream>
void Session<Stream>::arm_keepalive() {
  keepalive_timer_.expires_after(kSseKeepalive);
  keepalive_timer_.async_wait([weak = this->weak_from_this()](const error_code& ec) {
    auto s = weak.lock();
    if (!s || ec || s->closed_) return;
    s->push_event(kSseKeepaliveLine);
    s->arm_keepalive();
  });
}

// Reads (and drops) whatever the client sends; EOF or an error means it left. An event
// stream reads through TLS (a read beside the TLS writes is allowed); a lingering close reads
// beneath it, since nothing more is written.
template <class Stream>
void Session<Stream>::watch_peer() {
  auto on_read = [self = this->shared_from_this()](const error_code& ec, std::size_t) {
    self->shared_->note_io_thread();
    if (self->closed_) return;
    if (ec) return self->close();
    self->watch_peer();
  };
  if (streaming_)
    stream_.async_read_some(boost::asio::buffer(scratch_), std::move(on_read));
  else
    socket().async_read_some(boost::asio::buffer(scratch_), std::move(on_read));
}

template class Session<PlainStream>;
template class Session<TlsStream>;

}  // namespace portal::web

// One HTTP client connection, plain or TLS (Stream = a Beast basic_stream on the event loop's
// executor, or an ssl_stream over one).
// Requests are read and answered one at a time, so pipelined requests are answered in
// order; a request that subscribes to events turns the connection into an event stream.
// Everything runs on the module's event loop.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "request.h"
#include "shared.h"

namespace portal::web {

using PlainStream = boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
using TlsStream = boost::beast::ssl_stream<PlainStream>;

template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(std::shared_ptr<ServerShared> shared, LoopSocket socket, std::uint64_t serial);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  // Closes at once; a response in flight is dropped. Idempotent.
  void close() override;

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  auto& socket() { return boost::beast::get_lowest_layer(stream_).socket(); }
  void expire_after(std::chrono::milliseconds t) { boost::beast::get_lowest_layer(stream_).expires_after(t); }

  // --- requests ---
  void next_request();
  void read_header();
  void on_header(const boost::system::error_code& ec);
  void read_body();
  void on_body(const boost::system::error_code& ec);
  void on_parse_error(const boost::system::error_code& ec);
  void dispatch();
  void on_response(Response r, std::string path);
  void on_index(Response r);
  void send(HttpResponse res);
  void on_sent(const boost::system::error_code& ec, bool keep_alive);
  void lingering_close();

  // --- events ---
  void subscribe(std::string pattern, Credentials credentials);
  void on_subscribed(Result<SubscriptionId> r);
  void push_event(std::string text);
  void write_events();
  void arm_keepalive();
  void watch_peer();

  std::string name() const { return "client #" + std::to_string(serial_) + " (" + source_ + ")"; }

  std::shared_ptr<ServerShared> shared_;
  TrackToken token_;
  Stream stream_;
  std::uint64_t serial_;
  std::string source_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<HttpResponse> out_;
  std::string head_text_;  // status line and fields of out_
  bool json_ = false;
  bool head_ = false;
  bool keep_alive_ = true;
  bool first_ = true;
  bool closed_ = false;

  // Event stream state.
  boost::asio::steady_timer keepalive_timer_;
  boost::asio::steady_timer stall_timer_;
  std::optional<SubscriptionId> subscription_;
  std::deque<std::string> events_;
  std::string writing_;
  std::size_t queued_bytes_ = 0;
  bool streaming_ = false;
  bool event_write_active_ = false;
  std::array<char, 512> scratch_{};
};

extern template class Session<PlainStream>;
extern template class Session<TlsStream>;

}  // namespace portal::web

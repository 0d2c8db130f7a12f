// One client of the ctl socket: reads frames, forwards each request with Core::send_async,
// writes the responses back in whatever order they come. Everything runs on the module's
// event loop. A malformed or oversized frame closes the connection and nothing else.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "shared.h"

namespace portal::ctl {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Socket = boost::asio::local::stream_protocol::socket;

  Connection(std::shared_ptr<ServerShared> shared, Socket socket, std::uint64_t serial);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Closes at once; responses still in flight are dropped. Idempotent.
  void close();

 private:
  using Clock = std::chrono::steady_clock;

  void read_more();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void on_peer_eof();
  void process_input();
  bool take_frame();
  void compact_input();
  void dispatch(std::string_view payload);
  void on_response(std::uint64_t id, Response response);
  void queue_frame(std::string frame);
  void write_more();
  void on_write(const boost::system::error_code& ec);
  void resume();
  void finish_if_done();
  bool paused() const;
  void arm_idle_timer(Clock::duration after);
  void on_idle_timer();
  void warn_and_close(const std::string& why);
  std::string name() const { return "client #" + std::to_string(serial_); }

  std::shared_ptr<ServerShared> shared_;
  TrackToken token_;
  Socket socket_;
  std::string source_;  // "uid:<n>" of the connected process
  boost::asio::steady_timer idle_timer_;
  std::uint64_t serial_;

  std::string inbuf_;
  std::size_t inpos_ = 0;  // first byte of inbuf_ not consumed yet
  std::unique_ptr<std::array<char, 64 * 1024>> chunk_;

  std::deque<std::string> outq_;
  std::vector<std::string> writing_;
  std::vector<boost::asio::const_buffer> write_buffers_;
  std::size_t out_bytes_ = 0;  // queued + being written

  std::size_t in_flight_ = 0;
  Clock::time_point last_activity_;
  bool reading_ = false;
  bool write_active_ = false;
  bool processing_ = false;
  bool peer_eof_ = false;
  bool closed_ = false;
  bool counted_ = false;
};

}  // namespace portal::ctl

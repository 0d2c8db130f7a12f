// The ctl listener: owns the UNIX socket file and the accept loop, and closes every
// connection on stop. Lives on the module's event loop (Core::io()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection.h"
#include "settings.h"
#include "portal/unix_socket.h"
#include "shared.h"

namespace portal::ctl {

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(Core& core, Settings settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Replaces a stale socket file, binds, sets the mode, listens and starts accepting.
  // Call once, from any thread.
  Status open();
  // Closes the listener and every connection, waits (bounded) until none of their handlers
  // is left on the event loop, and removes the socket file. From any thread; idempotent.
  void close();
  // New limits (max_frame, idle_timeout_ms, max_clients, max_pending); socket and mode
  // only change with a restart.
  void apply_limits(const Settings& settings) { shared_->apply(settings); }

  // "Control socket\nSocket: <path>\nClients: <n>\nRequests: <n>\n"
  std::string status_text() const;
  const Settings& settings() const { return settings_; }

 private:
  using Acceptor = boost::asio::local::stream_protocol::acceptor;

  Status bind_and_listen();
  void accept_next();
  void on_accept(const boost::system::error_code& ec, Connection::Socket socket);
  void refuse(Connection::Socket& socket);
  void retry_accept_later(const boost::system::error_code& ec);
  void close_on_io();
  void remove_socket_file();

  std::shared_ptr<ServerShared> shared_;
  Settings settings_;
  Acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::uint64_t next_serial_ = 1;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  bool bound_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

// Makes room for a new socket at `path` (portal/unix_socket.h).
inline Status clear_stale_socket(const std::string& path) { return unix_socket::clear_stale(path); }

}  // namespace portal::ctl

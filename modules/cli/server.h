// The CLI listener: owns the UNIX socket file and the accept loop, and closes
// every session on close(). Lives on the module's event loop (Core::io()).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "session.h"
#include "settings.h"
#include "portal/unix_socket.h"
#include "shared.h"

namespace portal::cli {

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(Core &core, Settings settings);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Replaces a stale socket file (only a socket nobody listens on), binds, sets
  // the mode, listens and starts accepting.
  Status open();
  // Closes the listener and every session, waits (bounded) until none of their
  // handlers is left, removes the socket file. From any thread; idempotent.
  void close();

  // "CLI\nSocket: <path>\nClients: <n>\n"
  std::string status_text() const;

 private:
  using Acceptor = boost::asio::local::stream_protocol::acceptor;

  Status bind_and_listen();
  void accept_next();
  void on_accept(const boost::system::error_code &ec, Session::Socket socket);
  void close_on_io();
  void remove_socket_file();

  std::shared_ptr<ServerShared> shared_;
  Acceptor acceptor_;
  std::uint64_t next_serial_ = 1;
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;
  bool bound_ = false;
  bool closed_ = false;
  // The event loop's thread, once one of our handlers ran there.
  std::atomic<std::thread::id> io_thread_{};
};

// Makes room for a new socket at `path` (portal/unix_socket.h).
inline Status clear_stale_socket(const std::string& path) { return unix_socket::clear_stale(path); }

}  // namespace portal::cli

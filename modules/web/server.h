// The web listeners: plain HTTP and, when configured, HTTPS. Owns the acceptors and closes
// every session on stop. Lives on the module's event loop (Core::io()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "settings.h"
#include "shared.h"

namespace portal::web {

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(Core& core, Settings settings);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificate, binds, listens and starts accepting. Call once, from any thread.
  Status open();
  // Closes the listeners and every session, and waits (bounded) until none of their
  // handlers is left on the event loop. From any thread; idempotent.
  void close();

  // "HTTP REST API Gateway\nPort: <p>\nPrefix: <pfx>\nStatus: listening\n[TLS port: <n>\n]Connections: <n>\n"
  std::string status_text() const;
  std::uint16_t port() const { return port_; }
  std::uint16_t tls_port() const { return tls_port_; }

 private:
  using Acceptor = boost::asio::ip::tcp::acceptor;

  Status listen(Acceptor& acceptor, std::uint16_t port, std::uint16_t& bound, const char* what);
  void accept_next(Acceptor& acceptor, bool tls);
  void on_accept(const boost::system::error_code& ec, LoopSocket socket, Acceptor& acceptor, bool tls);
  void close_on_io();

  std::shared_ptr<ServerShared> shared_;
  Acceptor plain_;
  Acceptor secure_;
  boost::asio::steady_timer retry_timer_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::atomic<bool> closed_{false};  // read by status_text() on handler threads
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

// A TLS 1.2+ server context with the PEM certificate chain and key of `settings`; a
// kFatalConfig error naming the file that failed.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const Settings& settings);

}  // namespace portal::web

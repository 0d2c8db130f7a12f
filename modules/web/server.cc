#include "server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <future>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include "session.h"

namespace portal::web {

namespace {

namespace ssl = boost::asio::ssl;
using boost::asio::ip::tcp;

constexpr std::chrono::milliseconds kAcceptRetry{100};
constexpr std::chrono::seconds kCloseWait{2};
constexpr std::chrono::seconds kWarnEvery{10};

std::string openssl_error(const boost::system::error_code& ec) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return ec.message();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_tls_context(const Settings& settings) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(settings.cert_file, ec);
  if (ec)
    return make_error(kFatalConfig, "cannot load cert_file '" + settings.cert_file + "': " + openssl_error(ec));
  ctx->use_private_key_file(settings.key_file, ssl::context::pem, ec);
  if (ec) return make_error(kFatalConfig, "cannot load key_file '" + settings.key_file + "': " + openssl_error(ec));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    return make_error(kFatalConfig,
                      "key_file '" + settings.key_file + "' does not match cert_file '" + settings.cert_file + "'");
  }
  return ctx;
}

Server::Server(Core& core, Settings settings)
    : shared_(std::make_shared<ServerShared>(core, std::move(settings))),
      plain_(core.io()),
      secure_(core.io()),
      retry_timer_(core.io()) {}

Server::~Server() {
  boost::system::error_code ignored;
  plain_.close(ignored);
  secure_.close(ignored);
}

Status Server::open() {
  const Settings& s = shared_->settings;
  if (s.tls_on()) {
    auto ctx = make_tls_context(s);
    if (!ctx) return ctx.error();
    shared_->tls = std::move(*ctx);
  }
  Status st = listen(plain_, s.port, port_, "port");
  if (st && s.tls_on()) st = listen(secure_, *s.tls_port, tls_port_, "tls_port");
  if (!st) {
    boost::system::error_code ignored;
    plain_.close(ignored);
    secure_.close(ignored);
    closed_ = true;
    return st;
  }
  boost::asio::post(shared_->io, [self = shared_from_this(), token = TrackToken(shared_)] {
    self->shared_->note_io_thread();
    self->accept_next(self->plain_, false);
    if (self->secure_.is_open()) self->accept_next(self->secure_, true);
  });
  return {};
}

Status Server::listen(Acceptor& acceptor, std::uint16_t port, std::uint16_t& bound, const char* what) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(shared_->settings.bind, ec);
  if (ec) return make_error(kFatalConfig, "invalid bind address '" + shared_->settings.bind + "'");
  const tcp::endpoint ep(address, port);
  const std::string where = shared_->settings.bind + " " + what + " " + std::to_string(port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(Acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(status::unavailable, "cannot listen on " + where + ": " + ec.message());
  bound = acceptor.local_endpoint(ec).port();
  return {};
}

void Server::accept_next(Acceptor& acceptor, bool tls) {
  if (closed_) return;
  acceptor.async_accept(shared_->io, [self = shared_from_this(), token = TrackToken(shared_), &acceptor, tls](
                                         const boost::system::error_code& ec, LoopSocket socket) mutable {
    self->on_accept(ec, std::move(socket), acceptor, tls);
  });
}

void Server::on_accept(const boost::system::error_code& ec, LoopSocket socket, Acceptor& acceptor, bool tls) {
  shared_->note_io_thread();
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  const auto now = std::chrono::steady_clock::now();
  if (ec) {  // out of file descriptors and the like: accepting again at once would spin
    if (now - last_refusal_log_ >= kWarnEvery) {
      last_refusal_log_ = now;
      shared_->log(LogLevel::warn, "accept failed: " + ec.message() + "; retrying");
    }
    retry_timer_.expires_after(kAcceptRetry);
    retry_timer_.async_wait([self = shared_from_this(), token = TrackToken(shared_), &acceptor,
                             tls](const boost::system::error_code& e) {
      if (!e) self->accept_next(acceptor, tls);
    });
    return;
  }
  if (shared_->connections.load() >= shared_->settings.max_connections) {
    boost::system::error_code ignored;
    socket.close(ignored);
    if (now - last_refusal_log_ >= kWarnEvery) {
      last_refusal_log_ = now;
      shared_->log(LogLevel::warn, "max_connections (" + std::to_string(shared_->settings.max_connections) +
                                       ") reached; closing new connections");
    }
  } else {
    const std::uint64_t serial = shared_->next_serial++;
    std::shared_ptr<SessionBase> session;
    if (tls) {
      auto s = std::make_shared<Session<TlsStream>>(shared_, std::move(socket), serial);
      s->start();
      session = s;
    } else {
      auto s = std::make_shared<Session<PlainStream>>(shared_, std::move(socket), serial);
      s->start();
      session = s;
    }
    shared_->live.emplace(serial, session);
  }
  accept_next(acceptor, tls);
}

void Server::close() {
  if (shared_->in_io_thread()) {
    close_on_io();
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> closed = done->get_future();
  boost::asio::post(shared_->io, [self = shared_from_this(), done] {
    self->close_on_io();
    done->set_value();
  });
  if (closed.wait_for(kCloseWait) == std::future_status::ready)
    shared_->tracker.wait_zero(kCloseWait);
  else
    close_on_io();  // the event loop does not run: nothing else touches these objects
}

void Server::close_on_io() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  plain_.close(ignored);
  secure_.close(ignored);
  retry_timer_.cancel();
  std::vector<std::shared_ptr<SessionBase>> sessions;
  for (auto& [serial, weak] : shared_->live)
    if (auto s = weak.lock()) sessions.push_back(std::move(s));
  for (auto& s : sessions) s->close();
  shared_->live.clear();
}

std::string Server::status_text() const {
  const Settings& s = shared_->settings;
  std::string out = "HTTP REST API Gateway\nPort: " + std::to_string(port_) + "\nPrefix: " + s.api_prefix +
                    "\nStatus: " + (closed_ ? "stopped" : "listening") + "\n";
  if (s.tls_on()) out += "TLS port: " + std::to_string(tls_port_) + "\n";
  out += "Connections: " + std::to_string(shared_->connections.load()) + "\n";
  return out;
}

}  // namespace portal::web

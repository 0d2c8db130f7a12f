#include "server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <system_error>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace portal::ctl {

namespace {

constexpr std::chrono::milliseconds kAcceptRetry{100};
constexpr std::chrono::seconds kCloseWait{2};
constexpr std::chrono::seconds kWarnEvery{10};

std::string errno_text(int e) { return std::system_category().message(e); }

}  // namespace

Server::Server(Core& core, Settings settings)
    : shared_(std::make_shared<ServerShared>(core, settings)),
      settings_(std::move(settings)),
      acceptor_(core.io()),
      retry_timer_(core.io()) {}

Server::~Server() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  remove_socket_file();
}

Status Server::open() {
  if (Status st = clear_stale_socket(settings_.socket); !st) return st;
  if (Status st = bind_and_listen(); !st) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    remove_socket_file();
    closed_ = true;
    return st;
  }
  boost::asio::post(shared_->io, [self = shared_from_this(), token = TrackToken(shared_)] {
    self->shared_->note_io_thread();
    self->accept_next();
  });
  return {};
}

Status Server::bind_and_listen() {
  using Protocol = boost::asio::local::stream_protocol;
  const std::string& path = settings_.socket;
  boost::system::error_code ec;
  acceptor_.open(Protocol(), ec);
  if (ec) return make_error(status::internal_error, "cannot create a socket: " + ec.message());
  // Linux creates the file with the mode of the socket's inode (less the umask), so the
  // socket is never more open than configured, even before the chmod below.
  ::fchmod(acceptor_.native_handle(), settings_.mode);
  acceptor_.bind(Protocol::endpoint(path), ec);
  if (ec) return make_error(status::internal_error, "cannot bind " + path + ": " + ec.message());
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(status::internal_error, "cannot stat " + path + ": " + errno_text(errno));
  bound_ = true;
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  if (::chmod(path.c_str(), settings_.mode) != 0)
    return make_error(status::internal_error, "cannot set the mode of " + path + ": " + errno_text(errno));
  acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(status::internal_error, "cannot listen on " + path + ": " + ec.message());
  return {};
}

void Server::accept_next() {
  if (closed_) return;
  acceptor_.async_accept([self = shared_from_this(), token = TrackToken(shared_)](
                             const boost::system::error_code& ec, Connection::Socket socket) mutable {
    self->on_accept(ec, std::move(socket));
  });
}

void Server::on_accept(const boost::system::error_code& ec, Connection::Socket socket) {
  shared_->note_io_thread();
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) return retry_accept_later(ec);
  if (shared_->clients.load() >= shared_->max_clients.load()) {
    refuse(socket);
  } else {
    const std::uint64_t serial = next_serial_++;
    auto conn = std::make_shared<Connection>(shared_, std::move(socket), serial);
    shared_->live.emplace(serial, conn);
    conn->start();
  }
  accept_next();
}

void Server::refuse(Connection::Socket& socket) {
  boost::system::error_code ignored;
  socket.close(ignored);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ < kWarnEvery) return;
  last_refusal_log_ = now;
  shared_->log(LogLevel::warn, "max_clients (" + std::to_string(shared_->max_clients.load()) +
                                   ") reached; closing new connections");
}

// Out of file descriptors and the like: accepting again at once would spin.
void Server::retry_accept_later(const boost::system::error_code& ec) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ >= kWarnEvery) {
    last_refusal_log_ = now;
    shared_->log(LogLevel::warn, "accept failed: " + ec.message() + "; retrying");
  }
  retry_timer_.expires_after(kAcceptRetry);
  retry_timer_.async_wait([self = shared_from_this(), token = TrackToken(shared_)](const boost::system::error_code& e) {
    if (!e) self->accept_next();
  });
}

void Server::close() {
  if (shared_->in_io_thread()) {
    close_on_io();
  } else {
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
  remove_socket_file();
}

void Server::close_on_io() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  retry_timer_.cancel();
  std::vector<std::shared_ptr<Connection>> conns;
  for (auto& [serial, weak] : shared_->live)
    if (auto c = weak.lock()) conns.push_back(std::move(c));
  for (auto& c : conns) c->close();
  shared_->live.clear();
}

// Only the file this server created: a newer server may already own the path.
void Server::remove_socket_file() {
  if (!bound_) return;
  bound_ = false;
  struct stat st {};
  if (::lstat(settings_.socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket_dev_ &&
      st.st_ino == socket_ino_)
    ::unlink(settings_.socket.c_str());
}

std::string Server::status_text() const {
  return "Control socket\nSocket: " + settings_.socket + "\nClients: " + std::to_string(shared_->clients.load()) +
         "\nRequests: " + std::to_string(shared_->requests.load()) + "\n";
}

}  // namespace portal::ctl

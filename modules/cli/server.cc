#include "server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <future>
#include <system_error>
#include <vector>

namespace portal::cli {

namespace {

constexpr std::chrono::seconds kCloseWait{2};
constexpr std::string_view kTooMany = "Too many CLI clients; try again later.\n";

std::string errno_text(int e) { return std::system_category().message(e); }

}  // namespace

Server::Server(Core &core, Settings settings)
    : shared_(std::make_shared<ServerShared>(core, std::move(settings))), acceptor_(core.io()) {}

Server::~Server() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  remove_socket_file();
}

Status Server::open() {
  if (Status st = clear_stale_socket(shared_->settings.socket); !st) return st;
  if (Status st = bind_and_listen(); !st) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    remove_socket_file();
    closed_ = true;
    return st;
  }
  boost::asio::post(shared_->io, [self = shared_from_this(), token = TrackToken(shared_)] {
    self->io_thread_ = std::this_thread::get_id();
    self->accept_next();
  });
  return {};
}

Status Server::bind_and_listen() {
  using Protocol = boost::asio::local::stream_protocol;
  const std::string &path = shared_->settings.socket;
  const mode_t mode = shared_->settings.mode;
  boost::system::error_code ec;
  acceptor_.open(Protocol(), ec);
  if (ec) return make_error(status::internal_error, "cannot create a socket: " + ec.message());
  // Linux creates the file with the socket inode's mode (less the umask): never
  // more open than configured, even before the chmod below.
  ::fchmod(acceptor_.native_handle(), mode);
  acceptor_.bind(Protocol::endpoint(path), ec);
  if (ec) return make_error(status::internal_error, "cannot bind " + path + ": " + ec.message());
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(status::internal_error, "cannot stat " + path + ": " + errno_text(errno));
  bound_ = true;
  socket_dev_ = st.st_dev;
  socket_ino_ = st.st_ino;
  if (::chmod(path.c_str(), mode) != 0)
    return make_error(status::internal_error, "cannot set the mode of " + path + ": " + errno_text(errno));
  acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(status::internal_error, "cannot listen on " + path + ": " + ec.message());
  return {};
}

void Server::accept_next() {
  if (closed_) return;
  acceptor_.async_accept([self = shared_from_this(), token = TrackToken(shared_)](const boost::system::error_code &ec,
                                                                                  Session::Socket socket) mutable {
    self->on_accept(ec, std::move(socket));
  });
}

void Server::on_accept(const boost::system::error_code &ec, Session::Socket socket) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  if (ec) {
    shared_->core.log(LogLevel::warn, "accept failed: " + ec.message());
    // Out of descriptors and the like: a timer would be kinder; the next accept
    // tries again.
  } else if (shared_->clients.load() >= shared_->settings.max_clients) {
    ::send(socket.native_handle(), kTooMany.data(), kTooMany.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    const std::uint64_t serial = next_serial_++;
    auto session = std::make_shared<Session>(shared_, std::move(socket), serial);
    shared_->live.emplace(serial, session);
    session->start();
  }
  accept_next();
}

void Server::close() {
  const std::thread::id io = io_thread_.load();
  if (io == std::thread::id() || io == std::this_thread::get_id()) {
    close_on_io();  // on the event loop, or it never ran our handlers
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
      close_on_io();
  }
  remove_socket_file();
}

void Server::close_on_io() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  std::vector<std::shared_ptr<Session>> sessions;
  for (auto &[serial, s] : shared_->live) sessions.push_back(s);
  for (auto &s : sessions) s->close();
}

// Only the file this server created: a newer server may already own the path.
void Server::remove_socket_file() {
  if (!bound_) return;
  bound_ = false;
  const std::string &path = shared_->settings.socket;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket_dev_ && st.st_ino == socket_ino_)
    ::unlink(path.c_str());
}

std::string Server::status_text() const {
  return "CLI\nSocket: " + shared_->settings.socket + "\nClients: " + std::to_string(shared_->clients.load()) + "\n";
}

}  // namespace portal::cli

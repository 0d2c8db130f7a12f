// For modules that listen on a UNIX socket (ctl, cli): making room for the socket file.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "portal/message.h"
#include "portal/result.h"

namespace portal::unix_socket {

// connect() succeeds (or the backlog is full) only when a server listens on `path`.
inline bool is_live(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const bool live = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
  ::close(fd);
  return live;
}

// Makes room for a new socket at `path`: nothing there, or a socket nobody listens on
// (removed). A live socket is 503; any other kind of file is a fatal configuration error.
inline Status clear_stale(const std::string& path) {
  auto errno_text = [](int e) { return std::system_category().message(e); };
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return make_error(status::internal_error, "cannot inspect " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) return make_error(kFatalConfig, path + " exists and is not a socket; not replacing it");
  if (is_live(path)) return make_error(status::unavailable, path + " is in use by a running server");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return make_error(status::internal_error, "cannot remove stale socket " + path + ": " + errno_text(errno));
  return {};
}

}  // namespace portal::unix_socket

// For modules that listen on a UNIX socket (ctl, cli): making room for the socket file.
#pragma once

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "portal/config_values.h"
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

// The `socket` setting: required, shorter than sockaddr_un's path, without NUL. `what`
// names the socket in the error ("control", "CLI"), `section` the module ("mod_ctl").
inline Result<std::string> socket_setting(const std::optional<std::string>& path, std::string_view what,
                                          std::string_view section) {
  if (!path || path->empty())
    return make_error(kFatalConfig, "no " + std::string(what) + " socket configured: set `socket = PATH` in [" +
                                        std::string(section) + "]");
  if (path->size() >= sizeof(sockaddr_un::sun_path))
    return make_error(kFatalConfig, "socket path '" + *path + "' is too long (at most " +
                                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  if (path->find('\0') != std::string::npos) return make_error(kFatalConfig, "socket path holds a NUL byte");
  return *path;
}

// The `mode` setting: an octal file mode such as 0660.
inline Result<mode_t> mode_setting(std::string_view text) {
  std::optional<std::uint64_t> v = config_values::parse_number(text, 8);
  if (!v || *v > 07777) return config_values::bad_value("mode", text, "an octal file mode such as 0660");
  return static_cast<mode_t>(*v);
}

}  // namespace portal::unix_socket

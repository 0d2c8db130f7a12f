#include "supervisor/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "ipc/channel.h"

namespace portal::supervisor {

SdNotifier SdNotifier::from_environment() {
  const char* env = std::getenv("NOTIFY_SOCKET");
  std::string name = env ? env : "";
  ::unsetenv("NOTIFY_SOCKET");
  return SdNotifier(std::move(name));
}

Status SdNotifier::notify(std::string_view state) const {
  if (socket_.empty()) return {};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof addr.sun_path || (socket_[0] != '/' && socket_[0] != '@'))
    return make_error(400, "NOTIFY_SOCKET: unsupported address '" + socket_ + "'");
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: no terminating NUL
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() + (socket_[0] == '/'));
  ipc::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(500, std::string("NOTIFY_SOCKET: socket: ") + std::strerror(errno));
  ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  if (n < 0) return make_error(503, "NOTIFY_SOCKET " + socket_ + ": " + std::strerror(errno));
  return {};
}

Status SdNotifier::ready(std::string_view status) const { return notify("READY=1\nSTATUS=" + std::string(status)); }

Status SdNotifier::status(std::string_view status) const { return notify("STATUS=" + std::string(status)); }

Status SdNotifier::stopping() const { return notify("STOPPING=1\nSTATUS=Stopping"); }

Status SdNotifier::reloading() const {
  // Type=notify-reload wants the monotonic time of the reload request.
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
  return notify("RELOADING=1\nSTATUS=Reloading configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace portal::supervisor

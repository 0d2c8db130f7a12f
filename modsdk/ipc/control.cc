#include "ipc/control.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace portal::ipc {

Status send_control(int sock, const pb::Control& msg, const std::vector<int>& fds) {
  std::string data;
  if (!msg.SerializeToString(&data)) return make_error(500, "control: serialize failed");
  // A zero-byte datagram reads exactly like EOF on SOCK_SEQPACKET (recv_control would report
  // `closed`); a Control with no kind set says nothing anyway.
  if (data.empty()) return make_error(500, "control: empty message");
  if (data.size() > kMaxControlBytes) return make_error(500, "control: message too large");
  if (fds.size() > kMaxControlFds) return make_error(500, "control: too many fds");
  iovec iov{data.data(), data.size()};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxControlFds)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (!fds.empty()) {
    mh.msg_control = cbuf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd p{sock, POLLOUT, 0};
      ::poll(&p, 1, 1000);
      continue;
    }
    return make_error(503, std::string("control: sendmsg: ") + std::strerror(errno));
  }
}

ControlRead recv_control(int sock, pb::Control& msg, std::vector<UniqueFd>& fds, std::string* why) {
  fds.clear();
  // Peek the size first so large Configure messages fit.
  ssize_t want = ::recv(sock, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  if (want < 0) {
    if (errno == EAGAIN || errno == EINTR) return ControlRead::again;
    if (why) *why = std::strerror(errno);
    return ControlRead::error;
  }
  // want == 0 is EOF: send_control() never sends an empty datagram.
  if (static_cast<std::size_t>(want) > kMaxControlBytes) {
    if (why) *why = "control message too large";
    return ControlRead::error;
  }
  std::string data(static_cast<std::size_t>(want > 0 ? want : 1), '\0');
  iovec iov{data.data(), data.size()};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxControlFds)];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof cbuf;
  ssize_t n = ::recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return ControlRead::again;
    if (why) *why = std::strerror(errno);
    return ControlRead::error;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
      }
    }
  }
  if (n == 0 && want == 0) return ControlRead::closed;
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    if (why) *why = "control message truncated";
    return ControlRead::error;
  }
  if (!msg.ParseFromArray(data.data(), static_cast<int>(n))) {
    if (why) *why = "control message does not parse";
    return ControlRead::error;
  }
  return ControlRead::message;
}

}  // namespace portal::ipc

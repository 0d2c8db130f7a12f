#include "ipc/control.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portal::ipc {

namespace {

// Larger messages go through a memfd: a datagram must fit the socket's send buffer.
constexpr std::size_t kInlineControlBytes = 64 * 1024;

Status send_datagram(int sock, std::string& data, const std::vector<int>& fds);

// Writes `data` into a sealed memfd and sends a Spilled marker with it as the first fd.
Status send_spilled(int sock, const std::string& data, const std::vector<int>& fds) {
  if (fds.size() + 1 > kMaxControlFds) return make_error(500, "control: too many fds");
  UniqueFd mem(::memfd_create("portal-control", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return make_error(500, std::string("control: memfd_create: ") + std::strerror(errno));
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(mem.get(), data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return make_error(500, std::string("control: memfd write: ") + std::strerror(errno));
    off += static_cast<std::size_t>(w);
  }
  ::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  pb::Control marker;
  marker.mutable_spilled()->set_bytes(data.size());
  std::string small;
  marker.SerializeToString(&small);
  std::vector<int> all{mem.get()};
  all.insert(all.end(), fds.begin(), fds.end());
  return send_datagram(sock, small, all);
}

// Reads a spilled message back from its memfd into `msg`.
bool read_spilled(int fd, std::uint64_t bytes, pb::Control& msg) {
  struct stat st;
  if (bytes > kMaxControlBytes || ::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != bytes) return false;
  std::string data(bytes, '\0');
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t r = ::pread(fd, data.data() + off, data.size() - off, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    off += static_cast<std::size_t>(r);
  }
  return msg.ParseFromString(data) && !msg.has_spilled();
}

}  // namespace

Status send_control(int sock, const pb::Control& msg, const std::vector<int>& fds) {
  std::string data;
  if (!msg.SerializeToString(&data)) return make_error(500, "control: serialize failed");
  // A zero-byte datagram reads exactly like EOF on SOCK_SEQPACKET (recv_control would report
  // `closed`); a Control with no kind set says nothing anyway.
  if (data.empty()) return make_error(500, "control: empty message");
  if (data.size() > kMaxControlBytes) return make_error(500, "control: message too large");
  if (fds.size() > kMaxControlFds) return make_error(500, "control: too many fds");
  if (data.size() > kInlineControlBytes) return send_spilled(sock, data, fds);
  return send_datagram(sock, data, fds);
}

namespace {

Status send_datagram(int sock, std::string& data, const std::vector<int>& fds) {
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

}  // namespace

ControlRead recv_control(int sock, pb::Control& msg, std::vector<UniqueFd>& fds, std::string* why) {
  fds.clear();
  // Peek the size first so large Configure messages fit.
  ssize_t want = ::recv(sock, nullptr, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
  if (want < 0) {
    if (errno == EAGAIN || errno == EINTR) return ControlRead::again;
    // The peer went away with data we had not read yet: a close, not a fault.
    if (errno == ECONNRESET) return ControlRead::closed;
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
  if (msg.has_spilled()) {
    if (fds.empty() || !read_spilled(fds.front().get(), msg.spilled().bytes(), msg)) {
      if (why) *why = "spilled control message unreadable";
      return ControlRead::error;
    }
    fds.erase(fds.begin());
  }
  return ControlRead::message;
}

}  // namespace portal::ipc

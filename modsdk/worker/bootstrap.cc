#include "worker/bootstrap.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portal::worker {

Result<pb::WorkerBootstrap> read_bootstrap(int fd) {
  std::string data;
  char buf[16384];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = make_error(500, std::string("cannot read the bootstrap fd: ") + std::strerror(errno));
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    off += n;
  }
  ::close(fd);
  pb::WorkerBootstrap boot;
  if (!boot.ParseFromString(data)) return make_error(500, "the bootstrap fd holds no WorkerBootstrap");
  if (boot.module().empty() || boot.library().empty()) return make_error(500, "bootstrap without module or library");
  return boot;
}

Result<std::unique_ptr<ipc::Endpoint>> open_endpoint(const pb::WorkerBootstrap& boot) {
  ipc::UniqueFd channel(boot.channel_fd());
  if (!channel) return make_error(500, "bootstrap without a channel fd");
  if (boot.transport() == "uds")
    return std::unique_ptr<ipc::Endpoint>(std::make_unique<ipc::SocketEndpoint>(std::move(channel)));
  if (!boot.transport().empty() && boot.transport() != "ring")
    return make_error(500, "unknown transport '" + boot.transport() + "'");
  ipc::UniqueFd wake(boot.wake_fd());
  ipc::UniqueFd notify(boot.notify_fd());
  if (!wake || !notify) return make_error(500, "bootstrap without doorbell fds");
  auto mapped = ipc::Channel::map(channel.get(), ipc::Side::worker, boot.generation());
  if (!mapped) return mapped.error();
  // The mapping stays valid without the fd.
  return std::unique_ptr<ipc::Endpoint>(
      std::make_unique<ipc::RingEndpoint>(std::move(*mapped), std::move(wake), std::move(notify)));
}

}  // namespace portal::worker

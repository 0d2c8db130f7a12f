#include "supervisor/spawner.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "supervisor/exec.h"

namespace portal::supervisor {

namespace {

Error sys_error(const std::string& what) { return make_error(500, what + ": " + std::strerror(errno)); }

Status write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("write bootstrap");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

// `uds_worker_end` receives the worker's end of the socketpair (transport uds).
Result<WorkerChannel> make_channel(const WorkerLaunch& l, ipc::UniqueFd& uds_worker_end) {
  WorkerChannel ch;
  ch.transport = l.module->transport;
  if (ch.transport == Transport::uds) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return sys_error("socketpair");
    ch.uds.reset(sv[0]);
    uds_worker_end.reset(sv[1]);
    return ch;
  }
  std::string name = "portal-" + l.instance + "-" + l.module->name + "-g" + std::to_string(l.generation);
  auto fds = ipc::create_channel(name.c_str(), l.module->ring_bytes, l.generation);
  if (!fds) return fds.error();
  ch.ring = std::move(*fds);
  return ch;
}

}  // namespace

std::vector<int> WorkerChannel::router_fds() const {
  if (transport == Transport::uds) return {uds.get()};
  return {ring.memfd.get(), ring.router_bell.get(), ring.worker_bell.get()};
}

pb::WorkerBootstrap make_bootstrap(const WorkerLaunch& l) {
  const ModuleSettings& m = *l.module;
  pb::WorkerBootstrap b;
  b.set_module(m.name);
  b.set_library(m.library);
  b.set_generation(l.generation);
  b.set_threads(m.threads);
  for (const auto& [k, v] : m.values) (*b.mutable_config())[k] = v;
  b.set_transport(to_string(m.transport));
  b.set_ring_bytes(m.ring_bytes);
  b.set_channel_fd(kChannelFd);
  b.set_wake_fd(m.transport == Transport::ring ? kWakeFd : -1);
  b.set_notify_fd(m.transport == Transport::ring ? kNotifyFd : -1);
  b.set_instance(l.instance);
  b.set_log_level(l.log_level);
  b.set_busy_poll_us(m.busy_poll_us);
  b.set_call_timeout_ms(m.timeout_ms);
  return b;
}

Result<ipc::UniqueFd> bootstrap_memfd(const pb::WorkerBootstrap& bootstrap) {
  std::string data;
  if (!bootstrap.SerializeToString(&data)) return make_error(500, "bootstrap: serialize failed");
  ipc::UniqueFd fd(::memfd_create("portal-bootstrap", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return sys_error("memfd_create");
  if (auto st = write_all(fd.get(), data); !st) return st.error();
  if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0)
    return sys_error("seal bootstrap");
  // The offset is shared with the worker's copy: it must read from the start.
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return sys_error("lseek bootstrap");
  return fd;
}

Result<SpawnedWorker> spawn_worker(const WorkerLaunch& l) {
  ipc::UniqueFd uds_worker_end;
  auto channel = make_channel(l, uds_worker_end);
  if (!channel) return channel.error();
  auto boot = bootstrap_memfd(make_bootstrap(l));
  if (!boot) return boot.error();
  ExecSpec spec;
  spec.program = l.program;
  spec.args = {"--bootstrap-fd", std::to_string(kBootstrapFd)};
  spec.fds = {{boot->get(), kBootstrapFd}};
  if (channel->transport == Transport::ring)
    spec.fds.insert(spec.fds.end(), {{channel->ring.memfd.get(), kChannelFd},
                                     {channel->ring.worker_bell.get(), kWakeFd},
                                     {channel->ring.router_bell.get(), kNotifyFd}});
  else
    spec.fds.push_back({uds_worker_end.get(), kChannelFd});
  spec.hardening = &l.module->hardening;
  auto pid = spawn_process(spec);
  if (!pid) return pid.error();
  return SpawnedWorker{*pid, std::move(*channel)};
}

Result<SpawnedRouter> spawn_router(const std::string& program) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return sys_error("socketpair");
  ipc::UniqueFd ours(sv[0]), theirs(sv[1]);
  // Ours is read from the io_context; the router's end is handed over blocking.
  if (::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) | O_NONBLOCK) != 0) return sys_error("fcntl");
  ExecSpec spec;
  spec.program = program;
  spec.args = {"--control-fd", std::to_string(kRouterControlFd)};
  spec.fds = {{theirs.get(), kRouterControlFd}};
  auto pid = spawn_process(spec);
  if (!pid) return pid.error();
  return SpawnedRouter{*pid, std::move(ours)};
}

}  // namespace portal::supervisor

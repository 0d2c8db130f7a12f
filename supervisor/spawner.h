// Launching portal-router and portal-worker with the fd layout of docs/ARCHITECTURE.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipc/channel.h"
#include "portal.pb.h"
#include "portal/result.h"
#include "supervisor/settings.h"

namespace portal::supervisor {

// Fd numbers in a worker (WorkerBootstrap says the same).
inline constexpr int kBootstrapFd = 3;
inline constexpr int kChannelFd = 4;
inline constexpr int kWakeFd = 5;    // worker_bell: the worker sleeps on it
inline constexpr int kNotifyFd = 6;  // router_bell: the worker rings it
inline constexpr int kRouterControlFd = 3;

// The parent's side of one worker incarnation's channel, kept for its whole life so a
// restarted router can be handed the same fds.
struct WorkerChannel {
  Transport transport = Transport::ring;
  ipc::ChannelFds ring;
  ipc::UniqueFd uds;  // router's end of the socketpair (transport uds)

  // In the order Control.attach_worker carries them.
  std::vector<int> router_fds() const;
};

struct WorkerLaunch {
  std::string program;  // portal-worker
  const ModuleSettings* module = nullptr;
  std::string instance;
  std::string log_level;
  std::uint64_t generation = 0;
};

struct SpawnedWorker {
  pid_t pid = -1;
  WorkerChannel channel;
};

pb::WorkerBootstrap make_bootstrap(const WorkerLaunch& launch);
// A sealed memfd holding the serialized bootstrap, offset rewound to 0.
Result<ipc::UniqueFd> bootstrap_memfd(const pb::WorkerBootstrap& bootstrap);

Result<SpawnedWorker> spawn_worker(const WorkerLaunch& launch);

struct SpawnedRouter {
  pid_t pid = -1;
  ipc::UniqueFd control;  // our end of the SOCK_SEQPACKET pair, non-blocking
};

Result<SpawnedRouter> spawn_router(const std::string& program);

}  // namespace portal::supervisor

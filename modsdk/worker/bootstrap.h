// What portal-worker is handed at start: the WorkerBootstrap in a memfd, and the channel it
// describes (DESIGN.md 3, docs/ARCHITECTURE.md).
#pragma once

#include <memory>

#include "ipc/endpoint.h"
#include "portal.pb.h"

namespace portal::worker {

// Reads the whole memfd from offset 0 and closes it.
Result<pb::WorkerBootstrap> read_bootstrap(int fd);

// Maps the channel (transport "ring", the default) or wraps the socket ("uds"). Takes
// ownership of the fds the bootstrap names.
Result<std::unique_ptr<ipc::Endpoint>> open_endpoint(const pb::WorkerBootstrap& boot);

}  // namespace portal::worker

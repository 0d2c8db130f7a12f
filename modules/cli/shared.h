// State the listener and its sessions share. Everything here is touched on the
// module's event loop only, except the atomics and the tracker.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "portal/loop_shared.h"
#include "portal/module.h"
#include "settings.h"

namespace portal::cli {

class Session;

struct ServerShared : LoopShared {
  ServerShared(Core &c, Settings s) : LoopShared(c), settings(std::move(s)) {}

  Settings settings;
  std::atomic<std::size_t> clients{0};
  // Owns the sessions (event loop only); a session gives itself up in close().
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> live;
};

}  // namespace portal::cli

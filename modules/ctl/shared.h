// State the listener and its connections share. Plain members are touched on the module's
// event-loop thread only; atomics may be read anywhere (the status handler runs elsewhere).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "portal/loop_shared.h"
#include "portal/module.h"
#include "settings.h"

namespace portal::ctl {

class Connection;

struct ServerShared : LoopShared {
  ServerShared(Core& c, const Settings& s) : LoopShared(c) { apply(s); }

  void apply(const Settings& s) {
    max_frame.store(s.max_frame);
    idle_ms.store(s.idle_timeout.count());
    max_clients.store(s.max_clients);
    max_pending.store(s.max_pending);
  }

  std::atomic<std::uint32_t> max_frame{0};
  std::atomic<std::int64_t> idle_ms{0};
  std::atomic<std::size_t> max_clients{0};
  std::atomic<std::size_t> max_pending{0};
  std::atomic<std::size_t> clients{0};
  std::atomic<std::uint64_t> requests{0};
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> live;  // event loop only
};


}  // namespace portal::ctl

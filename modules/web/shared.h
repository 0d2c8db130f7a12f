// State the listeners and their sessions share. Plain members are touched on the module's
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
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include "portal/loop_shared.h"
#include "portal/module.h"
#include "settings.h"

namespace portal::web {

// A client socket bound to the event loop's own executor type: the default type-erased
// executor (any_io_executor) is copied, moved and destroyed through a table of functions at
// every read and write, which showed up in profiles of the request path.
using LoopSocket = boost::asio::ip::tcp::socket::rebind_executor<boost::asio::io_context::executor_type>::other;

// A session as the listener sees it: something it can close when the module stops.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
};

struct ServerShared : LoopShared {
  ServerShared(Core& c, Settings s) : LoopShared(c), settings(std::move(s)) {}

  const Settings settings;
  std::shared_ptr<boost::asio::ssl::context> tls;  // set when HTTPS is on
  std::atomic<std::size_t> connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> live;  // event loop only
  std::uint64_t next_serial = 1;                                        // event loop only
};


}  // namespace portal::web

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

#include "portal/module.h"
#include "settings.h"

namespace portal::cli {

class Session;

// Counts what may still run module code on the event loop (sessions, the
// pending accept), so that unload waits until none is left before the library
// goes away.
class Tracker {
 public:
  void add() {
    std::lock_guard lock(mu_);
    ++n_;
  }
  void done() {
    std::lock_guard lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  bool wait_zero(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t n_ = 0;
};

struct ServerShared {
  ServerShared(Core &c, Settings s) : core(c), io(c.io()), settings(std::move(s)) {}

  Core &core;
  boost::asio::io_context &io;
  Settings settings;
  Tracker tracker;
  std::atomic<std::size_t> clients{0};
  // Owns the sessions (event loop only); a session gives itself up in close().
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> live;
};

// Held while a handler or an object may still run module code; move-only.
class TrackToken {
 public:
  explicit TrackToken(std::shared_ptr<ServerShared> s) : s_(std::move(s)) { s_->tracker.add(); }
  TrackToken(TrackToken &&o) noexcept = default;
  TrackToken &operator=(TrackToken &&) = delete;
  TrackToken(const TrackToken &) = delete;
  ~TrackToken() {
    if (s_) s_->tracker.done();
  }

 private:
  std::shared_ptr<ServerShared> s_;
};

}  // namespace portal::cli

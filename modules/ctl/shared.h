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

#include "portal/module.h"
#include "settings.h"

namespace portal::ctl {

class Connection;

// Counts what may still run module code on the event loop (connections, pending accept and
// retry handlers), so that unload can wait until none is left.
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
  ServerShared(Core& c, const Settings& s) : core(c), io(c.io()) { apply(s); }

  void apply(const Settings& s) {
    max_frame.store(s.max_frame);
    idle_ms.store(s.idle_timeout.count());
    max_clients.store(s.max_clients);
    max_pending.store(s.max_pending);
  }

  // The host's io_context runs on one thread; every handler of ours notes which, so that
  // callbacks arriving elsewhere are posted to it and those already there run at once.
  void note_io_thread() { io_thread.store(std::this_thread::get_id(), std::memory_order_relaxed); }
  bool in_io_thread() const { return io_thread.load(std::memory_order_relaxed) == std::this_thread::get_id(); }
  template <class Fn>
  void run_on_io(Fn&& fn) {
    if (in_io_thread())
      fn();
    else
      boost::asio::post(io, std::forward<Fn>(fn));
  }

  void log(LogLevel level, const std::string& text) { core.log(level, text); }

  // Warnings about one client's bytes (event loop only): hostile clients must not flood the
  // log, so at most kClientWarnings per kClientWarnWindow, then a count of those dropped.
  void client_warning(const std::string& text) {
    const auto now = std::chrono::steady_clock::now();
    if (now - warn_window_start_ >= kClientWarnWindow) {
      if (warn_suppressed_ > 0)
        log(LogLevel::warn, std::to_string(warn_suppressed_) + " more client warnings suppressed");
      warn_window_start_ = now;
      warn_count_ = warn_suppressed_ = 0;
    }
    if (warn_count_++ < kClientWarnings)
      log(LogLevel::warn, text);
    else
      ++warn_suppressed_;
  }

  Core& core;
  boost::asio::io_context& io;
  std::atomic<std::uint32_t> max_frame{0};
  std::atomic<std::int64_t> idle_ms{0};
  std::atomic<std::size_t> max_clients{0};
  std::atomic<std::size_t> max_pending{0};
  std::atomic<std::size_t> clients{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::thread::id> io_thread{};
  Tracker tracker;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> live;  // event loop only

 private:
  static constexpr std::size_t kClientWarnings = 10;
  static constexpr std::chrono::seconds kClientWarnWindow{10};
  std::chrono::steady_clock::time_point warn_window_start_{};
  std::size_t warn_count_ = 0;
  std::size_t warn_suppressed_ = 0;
};

// Held by a handler (or an object) while it may still run module code; move-only.
class TrackToken {
 public:
  explicit TrackToken(std::shared_ptr<ServerShared> s) : s_(std::move(s)) { s_->tracker.add(); }
  TrackToken(TrackToken&& o) noexcept = default;
  TrackToken& operator=(TrackToken&&) = delete;
  TrackToken(const TrackToken&) = delete;
  ~TrackToken() {
    if (s_) s_->tracker.done();
  }

 private:
  std::shared_ptr<ServerShared> s_;
};

}  // namespace portal::ctl

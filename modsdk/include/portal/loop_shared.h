// What a module that serves sockets on its event loop (ctl, cli, web) keeps in the object its
// listener and connections share: the Core and its io_context, a count of what may still run
// module code (so unload can wait for it), the loop thread's identity (callbacks from other
// threads are posted to the loop, those already on it run at once), and a rate limit on
// warnings caused by clients (a hostile client must not flood the log).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "portal/module.h"

namespace portal {

// Counts holders (connections, pending handlers); wait_zero() waits until none is left.
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

class LoopShared {
 public:
  explicit LoopShared(Core& c) : core(c), io(c.io()) {}

  // Every handler of ours notes the loop thread, so run_on_io() knows where it is.
  void note_io_thread() { io_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed); }
  bool in_io_thread() const { return io_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id(); }
  template <class Fn>
  void run_on_io(Fn&& fn) {
    if (in_io_thread())
      fn();
    else
      boost::asio::post(io, std::forward<Fn>(fn));
  }

  void log(LogLevel level, const std::string& text) { core.log(level, text); }

  // Warnings about one client's bytes (event loop only): at most kClientWarnings per
  // kClientWarnWindow, then a count of those dropped.
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
  Tracker tracker;

 private:
  static constexpr std::size_t kClientWarnings = 10;
  static constexpr std::chrono::seconds kClientWarnWindow{10};
  std::atomic<std::thread::id> io_thread_{};
  std::chrono::steady_clock::time_point warn_window_start_{};
  std::size_t warn_count_ = 0;
  std::size_t warn_suppressed_ = 0;
};

// Held by a handler (or an object) while it may still run module code: keeps the shared
// object alive and counted in its tracker. Move-only.
class TrackToken {
 public:
  template <class Shared>
  explicit TrackToken(std::shared_ptr<Shared> s) : tracker_(&s->tracker), keep_(std::move(s)) {
    tracker_->add();
  }
  TrackToken(TrackToken&& o) noexcept : tracker_(std::exchange(o.tracker_, nullptr)), keep_(std::move(o.keep_)) {}
  TrackToken& operator=(TrackToken&&) = delete;
  TrackToken(const TrackToken&) = delete;
  ~TrackToken() {
    if (tracker_) tracker_->done();
  }

 private:
  Tracker* tracker_;
  std::shared_ptr<void> keep_;
};

}  // namespace portal

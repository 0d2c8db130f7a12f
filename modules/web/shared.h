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
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>

#include "portal/module.h"
#include "settings.h"

namespace portal::web {

// A session as the listener sees it: something it can close when the module stops.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
};

// Counts what may still run module code on the event loop, so that unload can wait until
// none is left.
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
  ServerShared(Core& c, Settings s) : core(c), io(c.io()), settings(std::move(s)) {}

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

  // Warnings caused by clients (event loop only): at most kClientWarnings per window, so a
  // hostile client cannot flood the log.
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
  const Settings settings;
  std::shared_ptr<boost::asio::ssl::context> tls;  // set when HTTPS is on
  std::atomic<std::size_t> connections{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::thread::id> io_thread{};
  Tracker tracker;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> live;  // event loop only
  std::uint64_t next_serial = 1;                                        // event loop only

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

}  // namespace portal::web

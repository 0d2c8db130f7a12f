// The router's event loop: one epoll set, level-triggered, registered once per fd (no
// re-arming syscalls on the hot path), plus a single deadline timer (timerfd), signals
// (signalfd) and a thread-safe post queue. Before blocking it asks its owner whether it
// may sleep (links arm their doorbells then) and, when configured, spins briefly first.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ipc/channel.h"

namespace portal::router {

class EventLoop {
 public:
  using Callback = std::function<void()>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Calls `fn` whenever `fd` is readable (level-triggered). One callback per fd.
  void watch(int fd, Callback fn);
  void unwatch(int fd);
  // Runs `fn` on the loop thread soon; callable from any thread.
  void post(Callback fn);
  // One-shot timer at an absolute CLOCK_MONOTONIC time in microseconds (replaces the last).
  void set_timer(std::uint64_t mono_us, Callback fn);
  // Blocks `signals` and delivers them to `fn` on the loop thread.
  void on_signals(const std::vector<int>& signals, std::function<void(int)> fn);

  // `may_sleep` runs before each blocking wait; false means work appeared, loop again.
  void set_may_sleep(std::function<bool()> fn) { may_sleep_ = std::move(fn); }
  // Adaptive spin: when `wanted()` holds, poll `probe()` for up to `spin` before sleeping;
  // `probe` returns true when it found (and did) work. 0 disables it.
  void set_spin(std::chrono::microseconds spin, std::function<bool()> wanted, std::function<bool()> probe);

  void run();
  void stop() { stopped_ = true; }

 private:
  void run_posted();
  bool spin_for_work();

  ipc::UniqueFd epoll_;
  ipc::UniqueFd wake_;   // eventfd for post()
  ipc::UniqueFd timer_;  // timerfd
  ipc::UniqueFd signal_;
  std::unordered_map<int, std::shared_ptr<Callback>> watched_;
  Callback timer_fn_;
  std::function<void(int)> signal_fn_;
  std::function<bool()> may_sleep_;
  std::chrono::microseconds spin_{0};
  std::function<bool()> spin_wanted_, spin_probe_;
  std::mutex post_mu_;
  std::vector<Callback> posted_;
  bool stopped_ = false;
};

}  // namespace portal::router

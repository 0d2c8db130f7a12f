// ModuleRuntime timers: steady_timers on the module's event loop, touched only there.
#include <boost/asio/post.hpp>

#include "host/runtime.h"

namespace portal::host {

namespace asio = boost::asio;
using std::chrono::milliseconds;

struct ModuleRuntime::Timer {
  Timer(asio::io_context& io, TimerId id, milliseconds every, std::function<void()> f, bool rep)
      : id(id), timer(io), interval(every), fn(std::move(f)), repeat(rep) {}
  TimerId id;
  asio::steady_timer timer;  // touched on the io thread only
  milliseconds interval;
  std::function<void()> fn;
  bool repeat;
  std::atomic<bool> cancelled{false};
};

TimerId ModuleRuntime::add_timer(milliseconds interval, std::function<void()> fn, bool repeat) {
  if (!fn || stopping_.load()) return 0;
  if (interval < milliseconds(1) && repeat) interval = milliseconds(1);
  auto t = std::make_shared<Timer>(io_, next_timer_id_.fetch_add(1), interval, std::move(fn), repeat);
  {
    std::lock_guard lock(timers_mu_);
    timers_.emplace(t->id, t);
  }
  asio::post(io_, [this, t] {
    if (!t->cancelled.load()) {
      t->timer.expires_after(t->interval);
      arm_timer(t);
    }
  });
  return t->id;
}

bool ModuleRuntime::remove_timer(TimerId id) {
  std::shared_ptr<Timer> t;
  {
    std::lock_guard lock(timers_mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    t = std::move(it->second);
    timers_.erase(it);
  }
  t->cancelled.store(true);
  asio::post(io_, [t] { t->timer.cancel(); });
  return true;
}

void ModuleRuntime::arm_timer(const std::shared_ptr<Timer>& t) {
  t->timer.async_wait([this, t](const boost::system::error_code& ec) {
    if (ec || t->cancelled.load() || crashed_.load()) return;
    if (!t->repeat) {
      std::lock_guard lock(timers_mu_);
      timers_.erase(t->id);  // remove_timer() after the last run is harmless
    }
    if (!run_module_code(t->fn, "a timer")) return;
    if (!t->repeat || t->cancelled.load()) return;
    auto next = t->timer.expiry() + t->interval;
    auto now = asio::steady_timer::clock_type::now();
    t->timer.expires_at(next < now ? now : next);
    arm_timer(t);
  });
}

void ModuleRuntime::cancel_all_timers() {
  std::unordered_map<TimerId, std::shared_ptr<Timer>> all;
  {
    std::lock_guard lock(timers_mu_);
    all.swap(timers_);
  }
  for (auto& [id, t] : all) {
    t->cancelled.store(true);
    t->timer.cancel();
  }
}

}  // namespace portal::host

#include "supervisor/restart_policy.h"

#include <algorithm>

namespace portal::supervisor {

namespace {

// "10 s" for whole seconds, else "1500 ms": the crash loop reason shown in last_exit.
std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

bool RestartPolicy::wants_restart(ExitKind kind) const {
  switch (mode_) {
    case RestartMode::never: return false;
    case RestartMode::always: return true;
    case RestartMode::on_failure: return kind != ExitKind::clean;
  }
  return false;
}

std::chrono::milliseconds RestartPolicy::backoff() const {
  // 1st consecutive crash: at once; 2nd: backoff_initial; then doubling up to the cap.
  if (consecutive_ <= 1 || limits_.backoff_initial.count() == 0) return std::chrono::milliseconds{0};
  auto delay = limits_.backoff_initial;
  for (unsigned i = 2; i < consecutive_ && delay < limits_.backoff_max; ++i) delay *= 2;
  return std::min(delay, limits_.backoff_max);
}

bool RestartPolicy::crash_loop(Clock::time_point now) {
  if (limits_.crash_limit == 0) {
    recent_.clear();
    return false;
  }
  while (!recent_.empty() && now - recent_.front() > limits_.crash_window) recent_.pop_front();
  recent_.push_back(now);
  return recent_.size() > limits_.crash_limit;
}

Decision RestartPolicy::exited(ExitKind kind, Clock::time_point now) {
  if (kind == ExitKind::fatal_config) return {Verdict::fail, {}, "fatal configuration"};
  if (!wants_restart(kind)) {
    if (kind == ExitKind::clean) return {Verdict::stop, {}, {}};
    return {Verdict::fail, {}, "restart = never"};
  }
  if (now - started_at_ >= limits_.healthy_reset) consecutive_ = 0;
  ++consecutive_;
  if (crash_loop(now))
    return {Verdict::fail, {},
            "crash loop: " + std::to_string(recent_.size()) + " exits in " + describe(limits_.crash_window)};
  return {Verdict::restart, backoff(), {}};
}

void RestartPolicy::reset() {
  consecutive_ = 0;
  recent_.clear();
}

}  // namespace portal::supervisor

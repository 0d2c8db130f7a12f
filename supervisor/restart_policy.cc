#include "supervisor/restart_policy.h"

#include <algorithm>

namespace portal::supervisor {

bool RestartPolicy::wants_restart(ExitKind kind) const {
  switch (mode_) {
    case RestartMode::never: return false;
    case RestartMode::always: return true;
    case RestartMode::on_failure: return kind != ExitKind::clean;
  }
  return false;
}

std::chrono::milliseconds RestartPolicy::backoff() const {
  // 1st consecutive crash: at once; 2nd: 100 ms; then doubling up to the cap.
  if (consecutive_ <= 1) return std::chrono::milliseconds{0};
  auto delay = kFirstBackoff;
  for (unsigned i = 2; i < consecutive_ && delay < kMaxBackoff; ++i) delay *= 2;
  return std::min(delay, kMaxBackoff);
}

Decision RestartPolicy::exited(ExitKind kind, Clock::time_point now) {
  if (kind == ExitKind::fatal_config && can_park_) return {Verdict::fail, {}, "fatal configuration"};
  if (!wants_restart(kind)) {
    if (kind == ExitKind::clean) return {Verdict::stop, {}, {}};
    return {Verdict::fail, {}, "restart = never"};
  }
  if (now - started_at_ >= kHealthyUptime) consecutive_ = 0;
  ++consecutive_;
  while (!recent_.empty() && now - recent_.front() > kCrashWindow) recent_.pop_front();
  recent_.push_back(now);
  if (can_park_ && recent_.size() > kMaxCrashesInWindow)
    return {Verdict::fail, {}, "crash loop: " + std::to_string(recent_.size()) + " exits in 10 s"};
  return {Verdict::restart, backoff(), {}};
}

void RestartPolicy::reset() {
  consecutive_ = 0;
  recent_.clear();
}

}  // namespace portal::supervisor

// The restart policy of DESIGN.md 4, as pure logic: the caller says when an incarnation
// started and how it ended, and gets back what to do. Time is passed in, never read, so
// tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "supervisor/settings.h"

namespace portal::supervisor {

using Clock = std::chrono::steady_clock;

enum class ExitKind {
  clean,         // exit 0
  failure,       // non-zero exit or killed by a signal
  fatal_config,  // exit 78: the configuration can never work
};

enum class Verdict {
  restart,  // spawn again after `delay` (zero: at once)
  stop,     // stays stopped (a clean exit the mode does not restart)
  fail,     // parked as failed until an operator starts it
};

struct Decision {
  Verdict verdict = Verdict::restart;
  std::chrono::milliseconds delay{0};
  std::string reason;  // for `fail`: why ("fatal configuration", "crash loop: ...")
};

// The policy of one module (or of the router). `limits` say when to wait and when to give
// up: crashes n >= 2 in a row wait backoff_initial * 2^(n-2), capped at backoff_max; more than
// crash_limit exits within crash_window park (crash_limit 0: never); an incarnation that
// lived healthy_reset starts the count afresh.
class RestartPolicy {
 public:
  explicit RestartPolicy(RestartMode mode = RestartMode::on_failure, RestartLimits limits = {})
      : mode_(mode), limits_(limits) {}

  void set_mode(RestartMode mode) { mode_ = mode; }
  // New limits apply from the next exit; the crash history is kept.
  void set_limits(const RestartLimits& limits) { limits_ = limits; }
  const RestartLimits& limits() const { return limits_; }
  // An incarnation started at `now`.
  void started(Clock::time_point now) { started_at_ = now; }
  // The incarnation ended unexpectedly (not asked to stop).
  Decision exited(ExitKind kind, Clock::time_point now);
  // An operator started the module: forget the crash history.
  void reset();

  unsigned consecutive_failures() const { return consecutive_; }

 private:
  bool wants_restart(ExitKind kind) const;
  std::chrono::milliseconds backoff() const;
  // Records an exit at `now`; true when it makes more than crash_limit within crash_window.
  bool crash_loop(Clock::time_point now);

  RestartMode mode_;
  RestartLimits limits_;
  Clock::time_point started_at_{};
  unsigned consecutive_ = 0;
  std::deque<Clock::time_point> recent_;  // restarts within crash_window
};

// The router's policy: the default backoff, never parked (portald cannot serve without it).
inline RestartLimits router_restart_limits() {
  RestartLimits l;
  l.crash_limit = 0;
  return l;
}

}  // namespace portal::supervisor

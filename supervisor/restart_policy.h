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

inline constexpr std::chrono::milliseconds kFirstBackoff{100};
inline constexpr std::chrono::milliseconds kMaxBackoff{30000};
inline constexpr std::chrono::milliseconds kHealthyUptime{60000};
inline constexpr std::chrono::milliseconds kCrashWindow{10000};
inline constexpr unsigned kMaxCrashesInWindow = 5;  // one more within the window parks

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

class RestartPolicy {
 public:
  // `can_park`: false for the router, which is never given up on (it only backs off).
  explicit RestartPolicy(RestartMode mode = RestartMode::on_failure, bool can_park = true)
      : mode_(mode), can_park_(can_park) {}

  void set_mode(RestartMode mode) { mode_ = mode; }
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

  RestartMode mode_;
  bool can_park_;
  Clock::time_point started_at_{};
  unsigned consecutive_ = 0;
  std::deque<Clock::time_point> recent_;  // restarts within kCrashWindow
};

}  // namespace portal::supervisor

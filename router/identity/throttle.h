// Failed-login throttling. One instance per kind of key: the router keeps one keyed by
// user name and one keyed by source (peer address, node), so a flood of keys of one kind
// cannot evict the other kind's entries.
//
// The first `free_failures` failures cost nothing. Each further failure locks the key for
// a delay that starts at `base_delay` and doubles up to `max_delay`. A success clears the
// key; a key with no failure for `forget_after` (counted from the end of its lock) is
// forgotten. At most `max_keys` keys are tracked; past that the least recently failed key
// is dropped.
//
// Attempts refused by check() should not be passed to failure(): the lock already
// applies, and the password was never tested.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

#include "router/identity/clock.h"

namespace portal::identity {

struct ThrottleConfig {
  unsigned free_failures = 5;
  std::chrono::seconds base_delay{1};
  std::chrono::seconds max_delay{15 * 60};
  std::chrono::seconds forget_after{60 * 60};
  std::size_t max_keys = 100000;  // at least 1
};

// What one failure did, for the caller's log line and event.
struct FailureOutcome {
  unsigned failures = 0;              // consecutive failures including this one
  std::chrono::seconds locked_for{0};  // 0 while still within the free failures
};

class Throttle {
 public:
  explicit Throttle(ThrottleConfig config = {});

  // How long key must still wait before an attempt is tried; nullopt when it may try now.
  std::optional<std::chrono::seconds> check(const std::string& key, TimePoint now) const;
  FailureOutcome failure(const std::string& key, TimePoint now);
  void success(const std::string& key);
  // Forgets keys quiet for forget_after; returns how many. Call from a periodic timer.
  std::size_t sweep(TimePoint now);

  std::size_t size() const { return entries_.size(); }
  const ThrottleConfig& config() const { return config_; }

 private:
  struct Entry {
    unsigned failures = 0;
    TimePoint locked_until{};
    TimePoint last_failure{};
    std::list<std::string>::iterator order;  // position in recent_
  };
  bool forgotten(const Entry& e, TimePoint now) const;
  std::chrono::seconds delay_for(unsigned failures) const;

  ThrottleConfig config_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // least recently failed first
};

}  // namespace portal::identity

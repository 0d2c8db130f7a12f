// Exclusive named resource locks (COMPAT.md 1.13 resource_lock and 2 /core/locks*). A
// lock with no keepalive for longer than the TTL is released by sweep(now). Time is always
// passed in, so tests drive it with a fake clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace portal::events {

using LockClock = std::chrono::steady_clock;

inline constexpr std::size_t kMaxLockNameBytes = 256;  // resource and owner each

enum class LockResult { Ok, AlreadyLocked, NotLocked, NotOwner, Invalid };

struct LockInfo {
  std::string resource;
  std::string owner;
  LockClock::time_point acquired;
  LockClock::time_point last_keepalive;
};

// A status code and body for the /core/locks paths.
struct LockAnswer {
  int status = 200;
  std::string body;
};

class LockTable {
 public:
  explicit LockTable(std::chrono::seconds ttl = std::chrono::seconds(60)) : ttl_(ttl) {}

  // Taking a lock the same owner already holds succeeds and counts as a keepalive. A lock
  // already past its TTL is treated as free even before sweep() runs.
  LockResult lock(std::string_view resource, std::string_view owner, LockClock::time_point now);
  LockResult unlock(std::string_view resource, std::string_view owner);
  // Ok, NotLocked, or NotOwner.
  LockResult keepalive(std::string_view resource, std::string_view owner, LockClock::time_point now);
  const LockInfo* find(std::string_view resource) const;
  bool locked(std::string_view resource, LockClock::time_point now) const;
  // Releases every lock whose last keepalive is more than the TTL before `now`; returns them.
  std::vector<LockInfo> sweep(LockClock::time_point now);
  // Releases every lock of `owner` (its module or client went away); returns how many.
  std::size_t release_owner(std::string_view owner);
  std::size_t size() const { return locks_.size(); }
  std::chrono::seconds ttl() const { return ttl_; }

  // GET /core/locks [resource=<prefix>]: sorted by resource. An empty filter lists all
  // with the "Resource locks:" header; a filter omits the header.
  std::string listing(std::string_view prefix_filter, LockClock::time_point now) const;
  // CALL /core/locks/{lock,unlock,keepalive}; empty resource or owner = missing header.
  LockAnswer call_lock(std::string_view resource, std::string_view owner, LockClock::time_point now);
  LockAnswer call_unlock(std::string_view resource, std::string_view owner);
  LockAnswer call_keepalive(std::string_view resource, std::string_view owner,
                            LockClock::time_point now);

 private:
  bool expired(const LockInfo& l, LockClock::time_point now) const {
    return now - l.last_keepalive > ttl_;
  }

  std::chrono::seconds ttl_;
  std::map<std::string, LockInfo, std::less<>> locks_;
};

}  // namespace portal::events

// Login sessions: random bearer tokens mapped to a user name, with an absolute TTL.
//
// The table is keyed by SHA-256 of the token, so a lookup never compares the presented
// token with a stored one byte by byte, and a memory dump holds no usable tokens. There
// is no fixed table size; each user holds at most `max_per_user` sessions and a new login
// beyond that evicts the user's oldest session. Time is passed in (a fake clock in tests).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "portal/result.h"
#include "router/identity/clock.h"

namespace portal::identity {

struct SessionConfig {
  std::chrono::seconds ttl{3600};  // absolute, counted from login
  std::size_t max_per_user = 64;   // at least 1
};

class SessionTable {
 public:
  explicit SessionTable(SessionConfig config = {});

  // A new session for user; returns its token (64 lowercase hex). Fails closed when the
  // CSPRNG fails.
  Result<std::string> create(const std::string& user, TimePoint now);
  // The user a live token belongs to; an expired token is removed and yields nullopt.
  std::optional<std::string> resolve(std::string_view token, TimePoint now);
  // Ends one session; false when the token was unknown.
  bool logout(std::string_view token);
  // Ends every session of user (password change, user removed); returns how many.
  std::size_t logout_user(const std::string& user);
  // Removes expired sessions; returns how many. Call from a periodic timer.
  std::size_t sweep(TimePoint now);

  std::size_t size() const { return sessions_.size(); }
  std::size_t count_for(const std::string& user) const;
  const SessionConfig& config() const { return config_; }

 private:
  struct Session {
    std::string user;
    TimePoint expires;
  };
  void erase_key(std::string key);  // by value: callers pass keys owned by the map

  SessionConfig config_;
  std::unordered_map<std::string, Session> sessions_;            // sha256(token) -> session
  std::unordered_map<std::string, std::deque<std::string>> by_user_;  // oldest key first
};

}  // namespace portal::identity

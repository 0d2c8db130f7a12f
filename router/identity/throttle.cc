#include "router/identity/throttle.h"

#include <algorithm>
#include <limits>

namespace portal::identity {

Throttle::Throttle(ThrottleConfig config) : config_(config) {
  if (config_.max_keys == 0) config_.max_keys = 1;
  if (config_.base_delay <= std::chrono::seconds::zero()) config_.base_delay = std::chrono::seconds{1};
  config_.max_delay = std::max(config_.max_delay, config_.base_delay);
}

bool Throttle::forgotten(const Entry& e, TimePoint now) const {
  return now - std::max(e.last_failure, e.locked_until) >= config_.forget_after;
}

std::chrono::seconds Throttle::delay_for(unsigned failures) const {
  if (failures <= config_.free_failures) return std::chrono::seconds::zero();
  unsigned doublings = failures - config_.free_failures - 1;
  auto delay = config_.base_delay;
  for (unsigned i = 0; i < doublings && delay < config_.max_delay; ++i) delay *= 2;
  return std::min(delay, config_.max_delay);
}

std::optional<std::chrono::seconds> Throttle::check(const std::string& key, TimePoint now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || now >= it->second.locked_until) return std::nullopt;
  // Round up so a client told "retry after N s" is not refused again when it does.
  auto left = std::chrono::ceil<std::chrono::seconds>(it->second.locked_until - now);
  return left;
}

FailureOutcome Throttle::failure(const std::string& key, TimePoint now) {
  auto it = entries_.find(key);
  if (it != entries_.end() && forgotten(it->second, now)) {
    recent_.erase(it->second.order);
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    while (entries_.size() >= config_.max_keys) {
      entries_.erase(recent_.front());
      recent_.pop_front();
    }
    recent_.push_back(key);
    it = entries_.emplace(key, Entry{0, {}, {}, std::prev(recent_.end())}).first;
  } else {
    recent_.splice(recent_.end(), recent_, it->second.order);
  }
  Entry& e = it->second;
  if (e.failures < std::numeric_limits<unsigned>::max()) ++e.failures;
  e.last_failure = now;
  auto delay = delay_for(e.failures);
  if (delay > std::chrono::seconds::zero()) e.locked_until = std::max(e.locked_until, now + delay);
  return {e.failures, delay};
}

void Throttle::success(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  recent_.erase(it->second.order);
  entries_.erase(it);
}

std::size_t Throttle::sweep(TimePoint now) {
  std::size_t removed = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (forgotten(it->second, now)) {
      recent_.erase(it->second.order);
      it = entries_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

}  // namespace portal::identity

#include "router/events/locks.h"

#include <optional>

namespace portal::events {
namespace {

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= kMaxLockNameBytes && s.find('\0') == std::string_view::npos;
}

long seconds_between(LockClock::time_point from, LockClock::time_point to) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(to - from).count());
}

std::string pad_right(std::string_view s, std::size_t width) {
  std::string out(s);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

std::optional<LockAnswer> check_args(std::string_view resource, std::string_view owner) {
  if (resource.empty() || owner.empty()) return LockAnswer{400, "Need: resource, owner headers\n"};
  if (!valid_name(resource) || !valid_name(owner))
    return LockAnswer{400, "Invalid resource or owner (NUL or longer than " +
                               std::to_string(kMaxLockNameBytes) + " bytes)\n"};
  return std::nullopt;
}

}  // namespace

LockResult LockTable::lock(std::string_view resource, std::string_view owner,
                           LockClock::time_point now) {
  if (!valid_name(resource) || !valid_name(owner)) return LockResult::Invalid;
  auto it = locks_.find(resource);
  if (it != locks_.end() && !expired(it->second, now)) {
    if (it->second.owner != owner) return LockResult::AlreadyLocked;
    it->second.last_keepalive = now;
    return LockResult::Ok;
  }
  if (it != locks_.end()) locks_.erase(it);
  locks_.emplace(std::string(resource), LockInfo{std::string(resource), std::string(owner), now, now});
  return LockResult::Ok;
}

LockResult LockTable::unlock(std::string_view resource, std::string_view owner) {
  auto it = locks_.find(resource);
  if (it == locks_.end()) return LockResult::NotLocked;
  if (it->second.owner != owner) return LockResult::NotOwner;
  locks_.erase(it);
  return LockResult::Ok;
}

LockResult LockTable::keepalive(std::string_view resource, std::string_view owner,
                                LockClock::time_point now) {
  auto it = locks_.find(resource);
  if (it == locks_.end() || expired(it->second, now)) return LockResult::NotLocked;
  if (it->second.owner != owner) return LockResult::NotOwner;
  it->second.last_keepalive = now;
  return LockResult::Ok;
}

const LockInfo* LockTable::find(std::string_view resource) const {
  auto it = locks_.find(resource);
  return it == locks_.end() ? nullptr : &it->second;
}

bool LockTable::locked(std::string_view resource, LockClock::time_point now) const {
  const LockInfo* l = find(resource);
  return l != nullptr && !expired(*l, now);
}

std::vector<LockInfo> LockTable::sweep(LockClock::time_point now) {
  std::vector<LockInfo> out;
  for (auto it = locks_.begin(); it != locks_.end();) {
    if (expired(it->second, now)) {
      out.push_back(std::move(it->second));
      it = locks_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::size_t LockTable::release_owner(std::string_view owner) {
  return std::erase_if(locks_, [&](const auto& kv) { return kv.second.owner == owner; });
}

std::string LockTable::listing(std::string_view prefix_filter, LockClock::time_point now) const {
  std::string out = prefix_filter.empty() ? "Resource locks:\n" : "";
  std::size_t shown = 0;
  for (const auto& [name, l] : locks_) {
    if (!name.starts_with(prefix_filter)) continue;
    ++shown;
    out += "  " + pad_right(name, 30) + " owner:" + pad_right(l.owner, 20) +
           " age:" + std::to_string(seconds_between(l.acquired, now)) +
           "s keepalive:" + std::to_string(seconds_between(l.last_keepalive, now)) + "s ago\n";
  }
  if (shown == 0)
    out += prefix_filter.empty() ? std::string("  (none)\n")
                                 : "  (no locks matching '" + std::string(prefix_filter) + "')\n";
  return out;
}

LockAnswer LockTable::call_lock(std::string_view resource, std::string_view owner,
                                LockClock::time_point now) {
  if (auto bad = check_args(resource, owner)) return *bad;
  if (lock(resource, owner, now) == LockResult::AlreadyLocked)
    return {409, "Already locked by: " + find(resource)->owner + "\n"};
  return {200, "Locked: " + std::string(resource) + " (owner: " + std::string(owner) + ")\n"};
}

LockAnswer LockTable::call_unlock(std::string_view resource, std::string_view owner) {
  if (auto bad = check_args(resource, owner)) return *bad;
  switch (unlock(resource, owner)) {
    case LockResult::Ok: return {200, "Unlocked: " + std::string(resource) + "\n"};
    case LockResult::NotOwner: return {403, "Not your lock\n"};
    default: return {404, "Not locked\n"};
  }
}

LockAnswer LockTable::call_keepalive(std::string_view resource, std::string_view owner,
                                     LockClock::time_point now) {
  if (auto bad = check_args(resource, owner)) return *bad;
  // COMPAT.md 2: 200 / 404 with no body; a keepalive from another owner is 404 too.
  return keepalive(resource, owner, now) == LockResult::Ok ? LockAnswer{200, ""} : LockAnswer{404, ""};
}

}  // namespace portal::events

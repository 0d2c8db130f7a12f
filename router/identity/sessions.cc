#include "router/identity/sessions.h"

#include <algorithm>

#include "router/identity/secret.h"

namespace portal::identity {

SessionTable::SessionTable(SessionConfig config) : config_(config) {
  if (config_.max_per_user == 0) config_.max_per_user = 1;
}

Result<std::string> SessionTable::create(const std::string& user, TimePoint now) {
  auto token = new_session_token();
  if (!token) return token.error();
  std::string key = sha256(*token);
  auto& keys = by_user_[user];
  while (keys.size() >= config_.max_per_user) {
    sessions_.erase(keys.front());
    keys.pop_front();
  }
  keys.push_back(key);
  sessions_[key] = Session{user, now + config_.ttl};
  return token;
}

std::optional<std::string> SessionTable::resolve(std::string_view token, TimePoint now) {
  auto it = sessions_.find(sha256(token));
  if (it == sessions_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    erase_key(it->first);
    return std::nullopt;
  }
  return it->second.user;
}

bool SessionTable::logout(std::string_view token) {
  std::string key = sha256(token);
  if (!sessions_.contains(key)) return false;
  erase_key(key);
  return true;
}

std::size_t SessionTable::logout_user(const std::string& user) {
  auto it = by_user_.find(user);
  if (it == by_user_.end()) return 0;
  std::size_t n = it->second.size();
  for (const auto& key : it->second) sessions_.erase(key);
  by_user_.erase(it);
  return n;
}

std::size_t SessionTable::sweep(TimePoint now) {
  std::size_t removed = 0;
  for (auto it = by_user_.begin(); it != by_user_.end();) {
    auto& keys = it->second;
    auto expired = [&](const std::string& key) {
      auto s = sessions_.find(key);
      if (s != sessions_.end() && now < s->second.expires) return false;
      if (s != sessions_.end()) {
        sessions_.erase(s);
        ++removed;
      }
      return true;
    };
    keys.erase(std::remove_if(keys.begin(), keys.end(), expired), keys.end());
    it = keys.empty() ? by_user_.erase(it) : std::next(it);
  }
  return removed;
}

std::size_t SessionTable::count_for(const std::string& user) const {
  auto it = by_user_.find(user);
  return it == by_user_.end() ? 0 : it->second.size();
}

void SessionTable::erase_key(std::string key) {
  auto s = sessions_.find(key);
  if (s == sessions_.end()) return;
  std::string user = s->second.user;  // copy: the node is erased below
  sessions_.erase(s);
  auto u = by_user_.find(user);
  if (u == by_user_.end()) return;
  auto& keys = u->second;
  keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
  if (keys.empty()) by_user_.erase(u);
}

}  // namespace portal::identity

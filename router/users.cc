#include "router/users.h"

#include <algorithm>

#include "router/identity/secret.h"

namespace portal::router {

bool is_root_only_label(std::string_view label) { return label == "root" || label == "sys.see_all"; }

const store::UserRecord* Users::find(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

const store::UserRecord* Users::find_by_key(std::string_view api_key) const {
  if (api_key.empty()) return nullptr;  // an empty stored key never matches
  auto it = by_key_.find(identity::sha256(api_key));
  if (it == by_key_.end()) return nullptr;
  const store::UserRecord* u = find(it->second);
  // The index is only a shortcut: the stored key must still be this one.
  if (!u || !identity::constant_time_equal(u->api_key, api_key)) return nullptr;
  return u;
}

void Users::put(store::UserRecord user) {
  auto it = users_.find(user.name);
  if (it != users_.end() && !it->second.api_key.empty()) by_key_.erase(identity::sha256(it->second.api_key));
  if (!user.api_key.empty()) by_key_[identity::sha256(user.api_key)] = user.name;
  std::string name = user.name;
  users_.insert_or_assign(std::move(name), std::move(user));
}

bool Users::erase(std::string_view name) {
  auto it = users_.find(name);
  if (it == users_.end()) return false;
  if (!it->second.api_key.empty()) by_key_.erase(identity::sha256(it->second.api_key));
  users_.erase(it);
  return true;
}

std::vector<const store::UserRecord*> Users::sorted() const {
  std::vector<const store::UserRecord*> out;
  out.reserve(users_.size());
  for (const auto& [name, u] : users_) out.push_back(&u);
  return out;
}

Caller Users::caller_for(const store::UserRecord& user) const {
  Caller c;
  c.user = user.name;
  c.labels = user.groups;
  if (user.name == kRootUser && std::find(c.labels.begin(), c.labels.end(), "root") == c.labels.end())
    c.labels.push_back("root");
  return c;
}

const store::GroupRecord* Users::group(std::string_view name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : &it->second;
}

void Users::put_group(store::GroupRecord group) {
  std::string name = group.name;
  groups_.insert_or_assign(std::move(name), std::move(group));
}

bool Users::erase_group(std::string_view name) {
  auto it = groups_.find(name);
  if (it == groups_.end()) return false;
  groups_.erase(it);
  return true;
}

std::map<std::string, std::vector<std::string>> Users::group_members() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [name, g] : groups_) out[name];
  for (const auto& [name, u] : users_) {
    Caller c = caller_for(u);
    for (const auto& label : c.labels) out[label].push_back(name);  // users_ is sorted by name
  }
  return out;
}

}  // namespace portal::router

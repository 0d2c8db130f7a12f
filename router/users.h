// The router's in-memory directory of users and groups (COMPAT.md 1.6, 2): the records
// the file store holds, indexed for the lookups every request makes. Loop thread only;
// persistence is the caller's (AuthService) business.
//
// API keys are indexed by SHA-256 of the key, so resolving a key never compares the
// presented key with stored ones byte by byte.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "router/access.h"
#include "router/store/records.h"

namespace portal::router {

inline constexpr std::string_view kRootUser = "root";

// Labels only the root user may grant or take away: they bypass the event ACL and the
// row filter.
bool is_root_only_label(std::string_view label);

class Users {
 public:
  const store::UserRecord* find(std::string_view name) const;
  const store::UserRecord* find_by_key(std::string_view api_key) const;
  // Adds or replaces the record of user.name.
  void put(store::UserRecord user);
  bool erase(std::string_view name);
  std::size_t size() const { return users_.size(); }
  // Sorted by name.
  std::vector<const store::UserRecord*> sorted() const;

  // The caller a user acts as: name and labels (its groups; root also carries `root`).
  Caller caller_for(const store::UserRecord& user) const;

  // Groups with metadata (description, created_by).
  const store::GroupRecord* group(std::string_view name) const;
  void put_group(store::GroupRecord group);
  bool erase_group(std::string_view name);
  // Every group: those with metadata and every label some user carries, with their
  // members sorted by name.
  std::map<std::string, std::vector<std::string>> group_members() const;

 private:
  std::map<std::string, store::UserRecord, std::less<>> users_;
  std::unordered_map<std::string, std::string> by_key_;  // sha256(api key) -> user name
  std::map<std::string, store::GroupRecord, std::less<>> groups_;
};

}  // namespace portal::router

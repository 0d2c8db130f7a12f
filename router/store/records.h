// What the store keeps: users, groups and module config entries (COMPAT.md 1.6, 1.9).
#pragma once

#include <string>
#include <vector>

namespace portal::store {

struct UserRecord {
  std::string name;
  std::string password_hash;  // as stored; hashing is the caller's job
  std::string api_key;        // empty = none
  std::vector<std::string> groups;
  bool operator==(const UserRecord&) const = default;
};

struct GroupRecord {
  std::string name;
  std::string description;
  std::string created_by;
  bool operator==(const GroupRecord&) const = default;
};

// One module setting: `module` is the bare module name ("web"); on disk and in providers
// it lives under "mod_<module>" (COMPAT.md 1.9, 1.10).
struct ConfigEntry {
  std::string module;
  std::string key;
  std::string value;
  bool operator==(const ConfigEntry&) const = default;
};

// Items that loaded plus one message per thing that did not ("users/bob.conf:3: ...").
template <class T>
struct LoadReport {
  std::vector<T> items;
  std::vector<std::string> errors;
};

}  // namespace portal::store

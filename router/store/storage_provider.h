// The storage seam: what a storage-provider module (SQLite, PostgreSQL, ...) implements
// to receive every write and answer reads (COMPAT.md 1.9, without W22's write-only
// mirrors). Every call returns its error as a value; a provider never throws.
//
// Contract: load_* and get_config answer 404 when the thing does not exist; delete_* of a
// missing thing succeeds; list_config("") lists every module's entries.
#pragma once

#include <string>
#include <vector>

#include "portal/result.h"
#include "router/store/records.h"

namespace portal::store {

class StorageProvider {
 public:
  virtual ~StorageProvider() = default;

  virtual std::string name() const = 0;

  virtual Result<std::vector<std::string>> list_users() = 0;
  virtual Result<UserRecord> load_user(const std::string& name) = 0;
  virtual Status save_user(const UserRecord& user) = 0;
  virtual Status delete_user(const std::string& name) = 0;

  virtual Result<std::vector<std::string>> list_groups() = 0;
  virtual Result<GroupRecord> load_group(const std::string& name) = 0;
  virtual Status save_group(const GroupRecord& group) = 0;
  virtual Status delete_group(const std::string& name) = 0;

  virtual Result<std::string> get_config(const std::string& module, const std::string& key) = 0;
  virtual Status set_config(const ConfigEntry& entry) = 0;
  virtual Result<std::vector<ConfigEntry>> list_config(const std::string& module) = 0;

  // Human-readable, several lines ("SQLite Storage Backend\nFile: ...\n").
  virtual std::string status() = 0;
};

}  // namespace portal::store

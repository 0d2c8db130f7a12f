// The always-on file store (COMPAT.md 1.9 layout, README.md):
//   <data_dir>/users/<name>.conf     password, api_key, groups (comma list)
//   <data_dir>/groups/<name>.conf    description, created_by
//   <data_dir>/settings/mod_<m>.conf [mod_<m>] key = value  (runtime /core/config/set values;
//                                    portald merges them over the module's config files)
// Directories 0700, files 0600 on every rewrite, atomic replacement (atomic_file.h),
// values escaped (value_escape.h). Names are checked by names.h before any path is built.
#pragma once

#include <string>
#include <vector>

#include "router/store/records.h"
#include "router/store/storage_provider.h"

namespace portal::store {

class FileStore final : public StorageProvider {
 public:
  // Creates the directories (0700) and removes leftovers of interrupted writes.
  static Result<FileStore> open(std::string data_dir);

  const std::string& data_dir() const { return data_dir_; }
  std::string user_path(const std::string& name) const;
  std::string group_path(const std::string& name) const;
  std::string module_path(const std::string& module) const;

  // Every user file that parses; one error per file that does not ("<path>:<line>: ...").
  LoadReport<UserRecord> load_users();
  LoadReport<GroupRecord> load_groups();

  std::string name() const override { return "file"; }
  Result<std::vector<std::string>> list_users() override;
  Result<UserRecord> load_user(const std::string& name) override;
  // Keys this version does not know are kept when a user file is rewritten.
  Status save_user(const UserRecord& user) override;
  Status delete_user(const std::string& name) override;
  Result<std::vector<std::string>> list_groups() override;
  Result<GroupRecord> load_group(const std::string& name) override;
  Status save_group(const GroupRecord& group) override;
  Status delete_group(const std::string& name) override;
  Result<std::string> get_config(const std::string& module, const std::string& key) override;
  Status set_config(const ConfigEntry& entry) override;
  Result<std::vector<ConfigEntry>> list_config(const std::string& module) override;
  std::string status() override;

 private:
  explicit FileStore(std::string data_dir) : data_dir_(std::move(data_dir)) {}

  std::string data_dir_;
};

}  // namespace portal::store

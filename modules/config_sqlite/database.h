// The SQLite file behind the storage paths: one connection, guarded by one mutex (handlers
// run on several threads), every statement prepared once at open. Each write is one
// transaction and returns only after COMMIT did; with journal_mode=WAL and
// synchronous=FULL a committed write survives the process being killed and power loss.
//
// Errors are values: 404 (no such row), 503 (busy beyond the busy timeout, disk full, I/O
// error: the router replays the write later), 500 (anything else). Names and keys are
// validated by the caller.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "portal/result.h"
#include "schema.h"
#include "statement.h"

namespace portal::config_sqlite {

struct UserRow {
  std::string password_hash;
  std::string api_key;
  std::string groups;  // comma list, as the router sent it
};

struct GroupRow {
  std::string description;
  std::string created_by;
};

struct ConfigRow {
  std::string module;  // bare name ("web"); stored as "mod_web"
  std::string key;
  std::string value;
};

class Database {
 public:
  // Opens (creating if missing) and checks the file, sets the pragmas, migrates the schema.
  // A file that is not SQLite, is corrupt, or cannot be opened is a kFatalConfig error
  // naming the file and SQLite's message.
  static Result<std::unique_ptr<Database>> open(const std::string& path, std::chrono::milliseconds busy_timeout);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  const MigrationReport& migration() const { return migration_; }
  std::string journal_mode() const { return journal_mode_; }

  Result<std::vector<std::string>> list_users();
  Result<UserRow> load_user(const std::string& name);
  Status save_user(const std::string& name, const UserRow& row);
  Status delete_user(const std::string& name);

  Result<std::vector<std::string>> list_groups();
  Result<GroupRow> load_group(const std::string& name);
  Status save_group(const std::string& name, const GroupRow& row);
  Status delete_group(const std::string& name);

  Result<std::string> get_config(const std::string& module, const std::string& key);
  Status set_config(const ConfigRow& row);
  // Every entry of `module`, or of every module when it is empty; sorted by module, key.
  Result<std::vector<ConfigRow>> list_configs(const std::string& module);

  void set_busy_timeout(std::chrono::milliseconds t);
  // "SQLite Storage Backend\nFile: <path>\nSize: <N>KB\nStatus: open|closed\n"
  std::string status_text();
  // Finalizes every statement and closes the connection; later calls answer 503.
  void close();

 private:
  struct Statements;
  explicit Database(std::string path);
  Status prepare_all();
  // Runs `body` between BEGIN IMMEDIATE and COMMIT; rolls back on failure.
  template <class F>
  Status write(std::string_view what, F&& body);
  Status exec_once(const Statement& s, std::string_view what);
  Result<std::vector<std::string>> list_names(const Statement& s, std::string_view what);

  std::mutex mu_;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> st_;
  MigrationReport migration_;
  std::string journal_mode_;
};

}  // namespace portal::config_sqlite

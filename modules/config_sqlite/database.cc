#include "database.h"

#include <sys/stat.h>

namespace portal::config_sqlite {

struct Database::Statements {
  Statement begin, commit, rollback;
  Statement list_users, load_user, save_user, delete_user;
  Statement list_groups, load_group, save_group, delete_group;
  Statement get_config, set_config, list_configs_all, list_configs_one;
};

namespace {

constexpr std::string_view kModulePrefix = "mod_";

Error closed_error() { return make_error(503, "database closed\n"); }

// Errors at open: a file that is not SQLite, corrupt, unreadable or read-only can never
// work (kFatalConfig); a busy or full database may on a later start (500/503: retried).
Error open_error(sqlite3* db, const std::string& path, int rc, std::string_view what) {
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = "database '" + path + "': " + std::string(what) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_FORMAT:
    case SQLITE_READONLY:
      return make_error(kFatalConfig, text);
    default:
      return make_error(sqlite_unavailable(rc) ? 503 : 500, text);
  }
}

// Runs a pragma and returns its first result row's first column ("" for none).
Result<std::string> pragma(sqlite3* db, const std::string& path, std::string_view sql) {
  Result<Statement> s = Statement::prepare(db, sql);
  if (!s) return open_error(db, path, sqlite3_errcode(db), sql);
  Use q(*s);
  int rc = q.step();
  if (rc == SQLITE_ROW) return q.column(0);
  if (rc == SQLITE_DONE) return std::string();
  return open_error(db, path, rc, sql);
}

// PRAGMA quick_check answers one row "ok", or one row per problem found.
Status quick_check(sqlite3* db, const std::string& path) {
  Result<Statement> s = Statement::prepare(db, "PRAGMA quick_check");
  if (!s) return open_error(db, path, sqlite3_errcode(db), "PRAGMA quick_check");
  Use q(*s);
  std::string problems;
  int rc;
  int rows = 0;
  while ((rc = q.step()) == SQLITE_ROW) {
    std::string line = q.column(0);
    if (line == "ok") continue;
    if (++rows <= 5) problems += (problems.empty() ? "" : "; ") + line;
  }
  if (rc != SQLITE_DONE) return open_error(db, path, rc, "PRAGMA quick_check");
  if (!problems.empty())
    return make_error(kFatalConfig, "database '" + path + "' is corrupt (quick_check: " + problems + ")");
  return {};
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const std::string& path, std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<Database> d(new Database(path));
  int rc =
      sqlite3_open_v2(path.c_str(), &d->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return open_error(d->db_, path, rc, "cannot open");
  sqlite3_extended_result_codes(d->db_, 1);
  sqlite3_busy_timeout(d->db_, static_cast<int>(busy_timeout.count()));
  if (sqlite3_db_readonly(d->db_, "main") == 1)
    return make_error(kFatalConfig, "database '" + path + "': the file is read-only");

  if (Status s = quick_check(d->db_, path); !s) return s.error();
  Result<std::string> mode = pragma(d->db_, path, "PRAGMA journal_mode=WAL");
  if (!mode) return mode.error();
  d->journal_mode_ = *mode;
  for (std::string_view p : {"PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"})
    if (Result<std::string> r = pragma(d->db_, path, p); !r) return r.error();

  Result<MigrationReport> m = migrate(d->db_, path);
  if (!m) {
    Error e = m.error();
    if (e.code != kFatalConfig) e.message = "database '" + path + "': " + e.message;
    return e;
  }
  d->migration_ = *m;
  if (Status s = d->prepare_all(); !s) return s.error();
  return d;
}

Database::Database(std::string path) : path_(std::move(path)) {}

Database::~Database() { close(); }

Status Database::prepare_all() {
  auto st = std::make_unique<Statements>();
  struct Item {
    Statement* stmt;
    std::string_view sql;
  };
  const Item items[] = {
      {&st->begin, "BEGIN IMMEDIATE"},
      {&st->commit, "COMMIT"},
      {&st->rollback, "ROLLBACK"},
      {&st->list_users, "SELECT username FROM users ORDER BY username"},
      {&st->load_user, "SELECT password, api_key, \"groups\" FROM users WHERE username = ?1"},
      {&st->save_user,
       "INSERT INTO users(username, password, api_key, \"groups\") VALUES(?1, ?2, ?3, ?4) "
       "ON CONFLICT(username) DO UPDATE SET password = excluded.password, api_key = excluded.api_key, "
       "\"groups\" = excluded.\"groups\", updated_at = datetime('now')"},
      {&st->delete_user, "DELETE FROM users WHERE username = ?1"},
      {&st->list_groups, "SELECT name FROM \"groups\" ORDER BY name"},
      {&st->load_group, "SELECT description, created_by FROM \"groups\" WHERE name = ?1"},
      {&st->save_group,
       "INSERT INTO \"groups\"(name, description, created_by) VALUES(?1, ?2, ?3) "
       "ON CONFLICT(name) DO UPDATE SET description = excluded.description, created_by = excluded.created_by"},
      {&st->delete_group, "DELETE FROM \"groups\" WHERE name = ?1"},
      {&st->get_config, "SELECT value FROM module_configs WHERE module = ?1 AND key = ?2"},
      {&st->set_config,
       "INSERT INTO module_configs(module, key, value) VALUES(?1, ?2, ?3) "
       "ON CONFLICT(module, key) DO UPDATE SET value = excluded.value"},
      {&st->list_configs_all, "SELECT module, key, value FROM module_configs ORDER BY module, key"},
      {&st->list_configs_one, "SELECT module, key, value FROM module_configs WHERE module = ?1 ORDER BY key"},
  };
  for (const Item& it : items) {
    Result<Statement> s = Statement::prepare(db_, it.sql);
    if (!s) return open_error(db_, path_, sqlite3_errcode(db_), "preparing statements");
    *it.stmt = std::move(*s);
  }
  st_ = std::move(st);
  return {};
}

void Database::close() {
  std::lock_guard lock(mu_);
  st_.reset();  // finalizes every statement before the connection closes
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
}

void Database::set_busy_timeout(std::chrono::milliseconds t) {
  std::lock_guard lock(mu_);
  if (db_) sqlite3_busy_timeout(db_, static_cast<int>(t.count()));
}

Status Database::exec_once(const Statement& s, std::string_view what) {
  Use q(s);
  int rc = q.step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
  return sqlite_error(db_, rc, what);
}

template <class F>
Status Database::write(std::string_view what, F&& body) {
  if (!db_ || !st_) return closed_error();
  if (!sqlite3_get_autocommit(db_)) {  // a transaction a failed ROLLBACK left open
    Use r(st_->rollback);
    (void)r.step();
  }
  if (Status s = exec_once(st_->begin, what); !s) return s;
  Status s = body();
  if (s) {
    s = exec_once(st_->commit, what);
    if (s) return s;
  }
  // A failed statement may have rolled back already (disk full, I/O error).
  if (!sqlite3_get_autocommit(db_)) {
    Use r(st_->rollback);
    (void)r.step();
  }
  return s;
}

Result<std::vector<std::string>> Database::list_names(const Statement& s, std::string_view what) {
  if (!db_ || !st_) return closed_error();
  Use q(s);
  std::vector<std::string> names;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) names.push_back(q.column(0));
  if (rc != SQLITE_DONE) return sqlite_error(db_, rc, what);
  return names;
}

Result<std::vector<std::string>> Database::list_users() {
  std::lock_guard lock(mu_);
  if (!st_) return closed_error();
  return list_names(st_->list_users, "listing users");
}

Result<UserRow> Database::load_user(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!db_ || !st_) return closed_error();
  Use q(st_->load_user);
  int rc = q.text(1, name).step();
  if (rc == SQLITE_DONE) return make_error(404, "no such user\n");
  if (rc != SQLITE_ROW) return sqlite_error(db_, rc, "loading a user");
  return UserRow{q.column(0), q.column(1), q.column(2)};
}

Status Database::save_user(const std::string& name, const UserRow& row) {
  std::lock_guard lock(mu_);
  return write("saving a user", [&]() -> Status {
    Use q(st_->save_user);
    int rc = q.text(1, name).bytes(2, row.password_hash).bytes(3, row.api_key).bytes(4, row.groups).step();
    return rc == SQLITE_DONE ? Status{} : Status{sqlite_error(db_, rc, "saving a user")};
  });
}

Status Database::delete_user(const std::string& name) {
  std::lock_guard lock(mu_);
  return write("deleting a user", [&]() -> Status {
    Use q(st_->delete_user);
    int rc = q.text(1, name).step();
    return rc == SQLITE_DONE ? Status{} : Status{sqlite_error(db_, rc, "deleting a user")};
  });
}

Result<std::vector<std::string>> Database::list_groups() {
  std::lock_guard lock(mu_);
  if (!st_) return closed_error();
  return list_names(st_->list_groups, "listing groups");
}

Result<GroupRow> Database::load_group(const std::string& name) {
  std::lock_guard lock(mu_);
  if (!db_ || !st_) return closed_error();
  Use q(st_->load_group);
  int rc = q.text(1, name).step();
  if (rc == SQLITE_DONE) return make_error(404, "no such group\n");
  if (rc != SQLITE_ROW) return sqlite_error(db_, rc, "loading a group");
  return GroupRow{q.column(0), q.column(1)};
}

Status Database::save_group(const std::string& name, const GroupRow& row) {
  std::lock_guard lock(mu_);
  return write("saving a group", [&]() -> Status {
    Use q(st_->save_group);
    int rc = q.text(1, name).bytes(2, row.description).bytes(3, row.created_by).step();
    return rc == SQLITE_DONE ? Status{} : Status{sqlite_error(db_, rc, "saving a group")};
  });
}

Status Database::delete_group(const std::string& name) {
  std::lock_guard lock(mu_);
  return write("deleting a group", [&]() -> Status {
    Use q(st_->delete_group);
    int rc = q.text(1, name).step();
    return rc == SQLITE_DONE ? Status{} : Status{sqlite_error(db_, rc, "deleting a group")};
  });
}

Result<std::string> Database::get_config(const std::string& module, const std::string& key) {
  std::lock_guard lock(mu_);
  if (!db_ || !st_) return closed_error();
  Use q(st_->get_config);
  int rc = q.text(1, std::string(kModulePrefix) + module).text(2, key).step();
  if (rc == SQLITE_DONE) return make_error(404, "no such config entry\n");
  if (rc != SQLITE_ROW) return sqlite_error(db_, rc, "reading a config entry");
  return q.column(0);
}

Status Database::set_config(const ConfigRow& row) {
  std::lock_guard lock(mu_);
  return write("saving a config entry", [&]() -> Status {
    Use q(st_->set_config);
    int rc = q.text(1, std::string(kModulePrefix) + row.module).text(2, row.key).bytes(3, row.value).step();
    return rc == SQLITE_DONE ? Status{} : Status{sqlite_error(db_, rc, "saving a config entry")};
  });
}

Result<std::vector<ConfigRow>> Database::list_configs(const std::string& module) {
  std::lock_guard lock(mu_);
  if (!db_ || !st_) return closed_error();
  const Statement& s = module.empty() ? st_->list_configs_all : st_->list_configs_one;
  Use q(s);
  if (!module.empty()) q.text(1, std::string(kModulePrefix) + module);
  std::vector<ConfigRow> rows;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    std::string stored = q.column(0);
    // Rows not written as "mod_<module>" (by hand, by another program) are not settings.
    if (!stored.starts_with(kModulePrefix)) continue;
    rows.push_back({stored.substr(kModulePrefix.size()), q.column(1), q.column(2)});
  }
  if (rc != SQLITE_DONE) return sqlite_error(db_, rc, "listing config entries");
  return rows;
}

std::string Database::status_text() {
  std::lock_guard lock(mu_);
  struct stat st {};
  std::uintmax_t kb = ::stat(path_.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_size) / 1024 : 0;
  return "SQLite Storage Backend\nFile: " + path_ + "\nSize: " + std::to_string(kb) +
         "KB\nStatus: " + (db_ ? "open" : "closed") + "\n";
}

}  // namespace portal::config_sqlite

#include "schema.h"

#include <string>

#include "statement.h"

namespace portal::config_sqlite {

namespace {

// Version 1: COMPAT.md 1.9. "groups" is quoted: GROUPS is a keyword of SQLite's window
// frames. Columns are declared TEXT; values that are not plain UTF-8 are stored as BLOBs
// (TEXT affinity leaves BLOBs alone), see statement.h.
constexpr Migration kMigrations[] = {
    {1,
     "CREATE TABLE users("
     " username TEXT PRIMARY KEY,"
     " password TEXT NOT NULL DEFAULT '',"
     " api_key TEXT NOT NULL DEFAULT '',"
     " \"groups\" TEXT NOT NULL DEFAULT '',"
     " created_at TEXT DEFAULT (datetime('now')),"
     " updated_at TEXT DEFAULT (datetime('now')));"
     "CREATE TABLE \"groups\"("
     " name TEXT PRIMARY KEY,"
     " description TEXT DEFAULT '',"
     " created_by TEXT DEFAULT '',"
     " created_at TEXT DEFAULT (datetime('now')));"
     "CREATE TABLE module_configs("
     " module TEXT,"
     " key TEXT,"
     " value TEXT DEFAULT '',"
     " PRIMARY KEY(module, key));"},
};

Status exec(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return {};
  Error e = sqlite_error(db, rc, what);
  sqlite3_free(err);
  return e;
}

Result<int> current_version(sqlite3* db) {
  Result<Statement> s = Statement::prepare(db, "SELECT max(version) FROM schema_version");
  if (!s) return s.error();
  Use q(*s);
  int rc = q.step();
  if (rc != SQLITE_ROW) return sqlite_error(db, rc, "reading the schema version");
  return static_cast<int>(q.column_int(0));  // NULL (no row) reads as 0
}

Status set_version(sqlite3* db, int version) {
  if (Status s = exec(db, "DELETE FROM schema_version", "recording the schema version"); !s) return s;
  Result<Statement> ins = Statement::prepare(db, "INSERT INTO schema_version(version) VALUES(?1)");
  if (!ins) return ins.error();
  Use q(*ins);
  int rc = q.integer(1, version).step();
  if (rc != SQLITE_DONE) return sqlite_error(db, rc, "recording the schema version");
  return {};
}

Result<MigrationReport> migrate_in_transaction(sqlite3* db, const std::string& path) {
  if (Status s =
          exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", "creating schema_version");
      !s)
    return s.error();
  Result<int> from = current_version(db);
  if (!from) return from.error();
  MigrationReport report{*from, *from};
  if (*from > latest_schema_version())
    return make_error(kFatalConfig, "database '" + path + "' has schema version " + std::to_string(*from) +
                                        ", newer than this module knows (" + std::to_string(latest_schema_version()) +
                                        ")");
  for (const Migration& m : migrations()) {
    if (m.version <= report.to) continue;
    if (Status s = exec(db, m.sql, "migrating to schema version " + std::to_string(m.version)); !s) return s.error();
    report.to = m.version;
  }
  if (report.migrated())
    if (Status s = set_version(db, report.to); !s) return s.error();
  return report;
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations[std::size(kMigrations) - 1].version; }

Result<MigrationReport> migrate(sqlite3* db, const std::string& path) {
  // IMMEDIATE: take the write lock before reading the version, so two processes opening
  // a new file cannot both create the tables.
  if (Status s = exec(db, "BEGIN IMMEDIATE", "starting the migration"); !s) return s.error();
  Result<MigrationReport> r = migrate_in_transaction(db, path);
  if (r) {
    Status c = exec(db, "COMMIT", "committing the migration");
    if (c) return r;
    r = c.error();
  }
  if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return r;
}

}  // namespace portal::config_sqlite

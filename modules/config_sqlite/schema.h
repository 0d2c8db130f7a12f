// The database schema (COMPAT.md 1.9) as a list of migrations. The version a database is
// at lives in `schema_version(version)`, one row. At open, every migration newer than that
// runs inside one transaction together with the version update: a crash in the middle
// leaves the database at its old version, and the next start runs them again.
//
// To change the schema, append {2, "ALTER TABLE ..."} to kMigrations (schema.cc); never
// edit a migration that has shipped.
#pragma once

#include <sqlite3.h>

#include <span>

#include "portal/result.h"

namespace portal::config_sqlite {

struct Migration {
  int version;      // the version the database is at after it
  const char* sql;  // one or more statements; static text, never values
};

std::span<const Migration> migrations();
int latest_schema_version();

struct MigrationReport {
  int from = 0;  // 0: a new database
  int to = 0;
  bool migrated() const { return from != to; }
};

// Brings the database up to latest_schema_version(). A database newer than this module
// knows is refused (kFatalConfig): downgrading would lose data.
Result<MigrationReport> migrate(sqlite3* db, const std::string& path);

}  // namespace portal::config_sqlite

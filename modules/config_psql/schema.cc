#include "schema.h"

#include <charconv>

namespace portal::config_psql {

namespace {

// Any fixed number: the key of the advisory lock that serializes migrations.
constexpr const char* kLockMigrations = "SELECT pg_advisory_xact_lock(7265726)";

// Migration N takes a database from version N-1 to N. Names are TEXT (validated before
// they get here); values are BYTEA so that any bytes, NUL included, round-trip exactly.
constexpr const char* kMigrations[] = {
    // 1: the tables of COMPAT.md 1.9.
    R"sql(
CREATE TABLE IF NOT EXISTS users (
  username   TEXT PRIMARY KEY,
  password   BYTEA NOT NULL DEFAULT '',
  api_key    BYTEA NOT NULL DEFAULT '',
  "groups"   BYTEA NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);
CREATE TABLE IF NOT EXISTS "groups" (
  name        TEXT PRIMARY KEY,
  description BYTEA NOT NULL DEFAULT '',
  created_by  BYTEA NOT NULL DEFAULT '',
  created_at  TIMESTAMP NOT NULL DEFAULT NOW()
);
CREATE TABLE IF NOT EXISTS module_configs (
  module     TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      BYTEA NOT NULL DEFAULT '',
  updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
  PRIMARY KEY (module, key)
);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

Status run_simple(PGconn* conn, const char* sql) {
  // PQexec (not PQexecParams): a migration holds several statements and takes no values.
  ResultPtr res(PQexec(conn, sql));
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return {};
  int code = PQstatus(conn) == CONNECTION_BAD ? kConnectionLost : kQueryFailed;
  return make_error(code, one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn)));
}

Result<int> current_version(PGconn* conn) {
  auto res = exec(conn, "SELECT COALESCE(MAX(version), 0)::TEXT FROM schema_version");
  if (!res) return res.error();
  std::string text = field(res->get(), 0, 0);
  int v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

Status migrate_locked(PGconn* conn) {
  if (Status s = run_simple(conn, kLockMigrations); !s) return s;
  if (Status s = run_simple(conn, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !s)
    return s;
  Result<int> version = current_version(conn);
  if (!version) return version.error();
  if (*version > kSchemaVersion)
    return make_error(kQueryFailed, "the database has schema version " + std::to_string(*version) +
                                        ", newer than this module's " + std::to_string(kSchemaVersion));
  for (int v = *version; v < kSchemaVersion; ++v)
    if (Status s = run_simple(conn, kMigrations[v]); !s) return s;
  if (*version == kSchemaVersion) return {};
  std::string set = "DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (" +
                    std::to_string(kSchemaVersion) + ")";
  return run_simple(conn, set.c_str());
}

}  // namespace

Status ensure_database(PGconn* maintenance, const std::string& database) {
  auto found = exec(maintenance, "SELECT 1 FROM pg_database WHERE datname = $1", {Param::text(database)});
  if (!found) return found.error();
  if (PQntuples(found->get()) > 0) return {};
  // CREATE DATABASE takes no parameters: the name is validated ([A-Za-z0-9_]{1,63}) and
  // quoted by libpq as an identifier.
  char* quoted = PQescapeIdentifier(maintenance, database.data(), database.size());
  if (!quoted) return make_error(kQueryFailed, one_line(PQerrorMessage(maintenance)));
  std::string sql = "CREATE DATABASE " + std::string(quoted);
  PQfreemem(quoted);
  ResultPtr res(PQexec(maintenance, sql.c_str()));
  if (res && PQresultStatus(res.get()) == PGRES_COMMAND_OK) return {};
  const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
  if (state && std::string_view(state) == "42P04") return {};  // created meanwhile by someone else
  int code = PQstatus(maintenance) == CONNECTION_BAD ? kConnectionLost : kQueryFailed;
  return make_error(code, "cannot create database \"" + database + "\": " +
                              one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(maintenance)));
}

Status migrate(PGconn* conn) {
  if (Status s = run_simple(conn, "BEGIN"); !s) return s;
  Status s = migrate_locked(conn);
  if (s) s = run_simple(conn, "COMMIT");
  if (!s && PQstatus(conn) != CONNECTION_BAD) (void)run_simple(conn, "ROLLBACK");
  return s;
}

}  // namespace portal::config_psql

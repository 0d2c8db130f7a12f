// The database and its tables (README.md "Schema", COMPAT.md 1.9).
#pragma once

#include <string>

#include "pg.h"

namespace portal::config_psql {

// The schema version this module writes; older databases are migrated on connect.
inline constexpr int kSchemaVersion = 1;

// On a connection to a maintenance database (`postgres`): creates `database` when it does
// not exist. `database` must already be a valid name (settings.h).
Status ensure_database(PGconn* maintenance, const std::string& database);

// Brings the tables up to kSchemaVersion in one transaction, under an advisory lock so
// that two modules starting together do not race. A database of a newer version is an
// error (this module does not know its tables).
Status migrate(PGconn* conn);

}  // namespace portal::config_psql

// A thin RAII layer over sqlite3 prepared statements, and the mapping of SQLite result
// codes to Portal status codes. Values are bound with explicit lengths so NUL bytes and
// non-UTF-8 bytes round-trip exactly.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::config_sqlite {

// 503 for "unavailable now" (busy, locked, disk full, I/O error, read-only, cannot open),
// 500 for anything else. The message names the operation and SQLite's own text.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

// Is `rc` one of the codes that mean "the backend is unavailable now" (503)?
bool sqlite_unavailable(int rc);

class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // One SQL statement, no trailing text.
  static Result<Statement> prepare(sqlite3* db, std::string_view sql);

  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Binds and runs one prepared statement; resets it and clears its bindings when it goes
// out of scope, so the statement is ready for the next use.
class Use {
 public:
  explicit Use(const Statement& s) : stmt_(s.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

  // A name, key or other ASCII text the caller validated.
  Use& text(int index, std::string_view v);
  // Any bytes: stored as TEXT when valid UTF-8 without NUL (readable by people with the
  // sqlite3 shell), as a BLOB otherwise; read back exactly either way by column().
  Use& bytes(int index, std::string_view v);
  Use& integer(int index, sqlite3_int64 v);
  // sqlite3_step(); SQLITE_ROW, SQLITE_DONE or an error code. A failed bind is returned here.
  int step();
  std::string column(int index) const;
  sqlite3_int64 column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

 private:
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF) without NUL bytes.
bool plain_utf8(std::string_view s);

}  // namespace portal::config_sqlite

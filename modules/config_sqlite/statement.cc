#include "statement.h"

namespace portal::config_sqlite {

bool sqlite_unavailable(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return true;
    default:
      return false;
  }
}

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = std::string(what) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return make_error(503, "database locked beyond the busy timeout (" + text + ")\n");
    case SQLITE_FULL:
      return make_error(503, "database unavailable: disk full (" + text + ")\n");
    default:
      break;
  }
  if (sqlite_unavailable(rc)) return make_error(503, "database unavailable (" + text + ")\n");
  return make_error(500, "database error (" + text + ")\n");
}

Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
  Statement s;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s.stmt_, &tail);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, "preparing '" + std::string(sql) + "'");
  if (!s.stmt_) return make_error(500, "empty SQL statement");
  return s;
}

Use& Use::text(int index, std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Use& Use::bytes(int index, std::string_view v) {
  if (plain_utf8(v)) return text(index, v);
  // A zero-length blob pointer must not be null, or SQLite binds NULL.
  static const char kEmpty = 0;
  int rc = sqlite3_bind_blob64(stmt_, index, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_TRANSIENT);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Use& Use::integer(int index, sqlite3_int64 v) {
  int rc = sqlite3_bind_int64(stmt_, index, v);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

int Use::step() {
  if (bind_rc_ != SQLITE_OK) return bind_rc_;
  return sqlite3_step(stmt_);
}

std::string Use::column(int index) const {
  // column_blob first, then column_bytes (SQLite's documented order): no conversion of
  // TEXT in a UTF-8 database, so the bytes come back exactly as they were bound.
  const void* p = sqlite3_column_blob(stmt_, index);
  int n = sqlite3_column_bytes(stmt_, index);
  if (!p || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool plain_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if ((c & 0xe0) == 0xc0)
      len = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
      len = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

}  // namespace portal::config_sqlite

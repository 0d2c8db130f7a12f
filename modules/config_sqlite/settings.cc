#include "settings.h"

#include <charconv>

namespace portal::config_sqlite {

Result<std::chrono::milliseconds> parse_busy_timeout(std::optional<std::string> text) {
  if (!text) return std::chrono::milliseconds(5000);
  std::int64_t v = -1;
  const char* end = text->data() + text->size();
  auto [p, ec] = std::from_chars(text->data(), end, v);
  if (text->empty() || ec != std::errc() || p != end || v < 0 || v > kMaxBusyTimeoutMs)
    return make_error(kFatalConfig, "invalid busy_timeout_ms = '" + *text +
                                        "': expected a number of milliseconds from 0 to " +
                                        std::to_string(kMaxBusyTimeoutMs));
  return std::chrono::milliseconds(v);
}

Result<Settings> parse_settings(const ConfigLookup& config) {
  Settings s;
  std::optional<std::string> db = config("database");
  if (!db || db->empty())
    return make_error(
        kFatalConfig,
        "no database configured: set `database = PATH` (e.g. <data_dir>/portal.db) in [mod_config_sqlite]");
  if (db->find('\0') != std::string::npos) return make_error(kFatalConfig, "database path holds a NUL byte");
  // Relative paths would depend on the worker's working directory; ":memory:" is not a file.
  if (db->front() != '/')
    return make_error(kFatalConfig, "database = '" + *db + "' must be an absolute path to the SQLite file");
  s.database = *db;
  Result<std::chrono::milliseconds> busy = parse_busy_timeout(config("busy_timeout_ms"));
  if (!busy) return busy.error();
  s.busy_timeout = *busy;
  return s;
}

}  // namespace portal::config_sqlite

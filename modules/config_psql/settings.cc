#include "settings.h"

#include "portal/config_values.h"

namespace portal::config_psql {

namespace {

using config_values::bad_value;
using config_values::read_number;

Status read_millis(const ConfigLookup& config, std::string_view key, std::chrono::milliseconds& out) {
  std::uint64_t ms = static_cast<std::uint64_t>(out.count());
  if (Status st = read_number(config, key, 1, 24ull * 3600 * 1000, ms); !st) return st;
  out = std::chrono::milliseconds(ms);
  return {};
}

// libpq takes its values as C strings: a NUL inside would silently cut them.
Status read_text(const ConfigLookup& config, std::string_view key, bool secret, bool allow_empty, std::string& out) {
  std::optional<std::string> text = config(key);
  if (!text) return {};
  if (text->find('\0') != std::string::npos || (!allow_empty && text->empty()))
    return make_error(kFatalConfig, "invalid " + std::string(key) + (secret ? "" : " = '" + *text + "'") +
                                        ": must be " + (allow_empty ? "" : "non-empty and ") + "without NUL bytes");
  out = *text;
  return {};
}

Status read_database(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("database");
  if (!text) return {};
  if (!valid_database_name(*text)) return bad_value("database", *text, "1-63 characters of A-Z a-z 0-9 _");
  s.database = *text;
  return {};
}

}  // namespace

bool valid_database_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

Result<Settings> parse_settings(const ConfigLookup& config) {
  Settings s;
  for (Status st : {read_text(config, "host", false, false, s.host), read_number(config, "port", 1, 65535, s.port),
                    read_text(config, "user", false, true, s.user),
                    read_text(config, "password", true, true, s.password), read_database(config, s),
                    read_millis(config, "connect_timeout_ms", s.connect_timeout),
                    read_millis(config, "retry_initial_ms", s.retry_initial),
                    read_millis(config, "retry_max_ms", s.retry_max),
                    read_number(config, "max_queued_writes", 0, 1u << 24, s.max_queued_writes)})
    if (!st) return st.error();
  if (s.retry_initial > s.retry_max)
    return make_error(kFatalConfig, "retry_initial_ms (" + std::to_string(s.retry_initial.count()) +
                                        ") is larger than retry_max_ms (" + std::to_string(s.retry_max.count()) + ")");
  return s;
}

}  // namespace portal::config_psql

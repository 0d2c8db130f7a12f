// The config_sqlite module's configuration keys (README.md "Configuration").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::config_sqlite {

struct Settings {
  std::string database;                          // required: the SQLite file
  std::chrono::milliseconds busy_timeout{5000};  // how long a locked database is waited for
};

inline constexpr std::int64_t kMaxBusyTimeoutMs = 600000;

using ConfigLookup = std::function<std::optional<std::string>(std::string_view key)>;

// Reads every key; a missing or invalid value is a kFatalConfig error naming it.
Result<Settings> parse_settings(const ConfigLookup& config);

// busy_timeout_ms alone (also used when it changes at runtime).
Result<std::chrono::milliseconds> parse_busy_timeout(std::optional<std::string> text);

}  // namespace portal::config_sqlite

// The config_psql module's configuration keys (README.md "Configuration").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::config_psql {

struct Settings {
  std::string host = "/var/run/postgresql";  // a host name, an address or a UNIX socket folder
  std::uint16_t port = 5432;
  std::string user;      // empty: libpq's default (the OS user)
  std::string password;  // secret: never logged, never in the status
  std::string database = "portal_conf";
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{30000};
  std::size_t max_queued_writes = 10000;  // reserved: writes are not queued in the module
};

using ConfigLookup = std::function<std::optional<std::string>(std::string_view key)>;

// Reads every key; an invalid value is a kFatalConfig error naming the key (never the
// password's value).
Result<Settings> parse_settings(const ConfigLookup& config);

// A database name the module will create and connect to: 1-63 of [A-Za-z0-9_].
bool valid_database_name(std::string_view name);

}  // namespace portal::config_psql

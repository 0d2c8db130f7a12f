// The web module's configuration keys (README.md "Configuration").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::web {

struct Settings {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8080;      // 0: an ephemeral port, logged and shown in the status
  // HTTPS: absent (tls_port = 0) means off; 0 here is an ephemeral port (tls_port = auto).
  std::optional<std::uint16_t> tls_port;
  std::string cert_file;          // PEM; required when tls_port is set
  std::string key_file;           // PEM; required when tls_port is set
  std::string api_prefix = "/api";
  std::size_t max_body = 16u << 20;
  std::size_t max_header = 16u << 10;
  std::size_t max_uri = 8u << 10;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::string cors_origin;        // empty: no CORS headers
  std::size_t max_connections = 1024;
  bool tls_on() const { return tls_port.has_value(); }
};

using ConfigLookup = std::function<std::optional<std::string>(std::string_view key)>;

// Reads every key; an invalid value is a kFatalConfig error naming it.
Result<Settings> parse_settings(const ConfigLookup& config);

// "16777216", "16M", "64k", "1G" (binary multiples).
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace portal::web

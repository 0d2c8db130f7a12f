// The ctl module's configuration keys (README.md "Configuration").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::ctl {

struct Settings {
  std::string socket;                                 // required
  mode_t mode = 0660;                                 // of the socket file
  std::uint32_t max_frame = 80u << 20;                // bytes of one frame, length excluded
  std::chrono::milliseconds idle_timeout{300000};     // 0: never
  std::size_t max_clients = 256;                      // connections at once
  std::size_t max_pending = 1024;                     // requests in flight per connection
};

using ConfigLookup = std::function<std::optional<std::string>(std::string_view key)>;

// Reads every key; an invalid or missing required value is a kFatalConfig error naming it.
Result<Settings> parse_settings(const ConfigLookup& config);

// "83886080", "80M", "64k", "1G" (binary multiples).
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace portal::ctl

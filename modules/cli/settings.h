// The cli module's configuration keys (README.md "Configuration").
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::cli {

struct Settings {
  std::string socket;                         // required: the module cannot know a run dir
  mode_t mode = 0660;                         // of the socket file
  std::size_t max_clients = 64;               // sessions at once
  std::chrono::milliseconds idle_timeout{0};  // 0: never
};

using ConfigLookup = std::function<std::optional<std::string>(std::string_view key)>;

// Reads every key; an invalid or missing required value is a kFatalConfig error
// naming it. `peer_users` is read by the router, not here.
Result<Settings> parse_settings(const ConfigLookup &config);

}  // namespace portal::cli

#include "settings.h"

#include <cstdint>
#include <limits>

#include "portal/config_values.h"
#include "portal/unix_socket.h"

namespace portal::cli {

namespace {

using config_values::read_number;

Status read_socket(const ConfigLookup &config, Settings &s) {
  auto path = unix_socket::socket_setting(config("socket"), "CLI", "mod_cli");
  if (!path) return path.error();
  s.socket = std::move(*path);
  return {};
}

Status read_mode(const ConfigLookup &config, Settings &s) {
  std::optional<std::string> text = config("mode");
  if (!text) return {};
  auto mode = unix_socket::mode_setting(*text);
  if (!mode) return mode.error();
  s.mode = *mode;
  return {};
}

}  // namespace

Result<Settings> parse_settings(const ConfigLookup &config) {
  Settings s;
  std::uint64_t idle_ms = 0;
  std::uint64_t max_clients = s.max_clients;
  constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
  for (Status st :
       {read_socket(config, s), read_mode(config, s), read_number(config, "idle_timeout_ms", 0, kMaxU32, idle_ms),
        read_number(config, "max_clients", 1, 1u << 20, max_clients)})
    if (!st) return st.error();
  s.idle_timeout = std::chrono::milliseconds(idle_ms);
  s.max_clients = static_cast<std::size_t>(max_clients);
  return s;
}

}  // namespace portal::cli

#include "settings.h"

#include <limits>

#include "portal/config_values.h"
#include "portal/unix_socket.h"

namespace portal::ctl {

namespace {

template <class T>
Status read_number(const ConfigLookup& config, std::string_view key, std::uint64_t min, std::uint64_t max, T& out) {
  return config_values::read_number(config, key, min, max, out, config_values::Units::size);
}

Status read_socket(const ConfigLookup& config, Settings& s) {
  auto path = unix_socket::socket_setting(config("socket"), "control", "mod_ctl");
  if (!path) return path.error();
  s.socket = std::move(*path);
  return {};
}

Status read_mode(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("mode");
  if (!text) return {};
  auto mode = unix_socket::mode_setting(*text);
  if (!mode) return mode.error();
  s.mode = *mode;
  return {};
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) { return config_values::parse_size(text); }

Result<Settings> parse_settings(const ConfigLookup& config) {
  Settings s;
  std::uint64_t idle_ms = static_cast<std::uint64_t>(s.idle_timeout.count());
  constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
  for (Status st : {read_socket(config, s), read_mode(config, s),
                    read_number(config, "max_frame", 64, kMaxU32, s.max_frame),
                    read_number(config, "idle_timeout_ms", 0, kMaxU32, idle_ms),
                    read_number(config, "max_clients", 1, 1u << 20, s.max_clients),
                    read_number(config, "max_pending", 1, 1u << 20, s.max_pending)})
    if (!st) return st.error();
  s.idle_timeout = std::chrono::milliseconds(idle_ms);
  return s;
}

}  // namespace portal::ctl

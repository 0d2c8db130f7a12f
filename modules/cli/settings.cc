#include "settings.h"

#include <sys/un.h>

#include <cstdint>
#include <limits>

#include "portal/config_values.h"

namespace portal::cli {

namespace {

using config_values::bad_value;
using config_values::parse_number;
using config_values::read_number;

Status read_socket(const ConfigLookup &config, Settings &s) {
  std::optional<std::string> path = config("socket");
  if (!path || path->empty())
    return make_error(kFatalConfig, "no CLI socket configured: set `socket = PATH` in [mod_cli]");
  if (path->size() >= sizeof(sockaddr_un::sun_path))
    return make_error(kFatalConfig, "socket path '" + *path + "' is too long (at most " +
                                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  if (path->find('\0') != std::string::npos) return make_error(kFatalConfig, "socket path holds a NUL byte");
  s.socket = *path;
  return {};
}

Status read_mode(const ConfigLookup &config, Settings &s) {
  std::optional<std::string> text = config("mode");
  if (!text) return {};
  std::optional<std::uint64_t> v = parse_number(*text, 8);
  if (!v || *v > 07777) return bad_value("mode", *text, "an octal file mode such as 0660");
  s.mode = static_cast<mode_t>(*v);
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

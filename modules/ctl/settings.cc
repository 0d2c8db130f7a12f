#include "settings.h"

#include <sys/un.h>

#include <charconv>
#include <limits>

#include "portal/config_values.h"

namespace portal::ctl {

namespace {

using config_values::bad_value;
using config_values::parse_number;

template <class T>
Status read_number(const ConfigLookup& config, std::string_view key, std::uint64_t min, std::uint64_t max, T& out) {
  return config_values::read_number(config, key, min, max, out, config_values::Units::size);
}

Status read_socket(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> path = config("socket");
  if (!path || path->empty())
    return make_error(kFatalConfig, "no control socket configured: set `socket = PATH` in [mod_ctl]");
  if (path->size() >= sizeof(sockaddr_un::sun_path))
    return make_error(kFatalConfig, "socket path '" + *path + "' is too long (at most " +
                                        std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  if (path->find('\0') != std::string::npos) return make_error(kFatalConfig, "socket path holds a NUL byte");
  s.socket = *path;
  return {};
}

Status read_mode(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("mode");
  if (!text) return {};
  std::optional<std::uint64_t> v = parse_number(*text, 8);
  if (!v || *v > 07777) return bad_value("mode", *text, "an octal file mode such as 0660");
  s.mode = static_cast<mode_t>(*v);
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

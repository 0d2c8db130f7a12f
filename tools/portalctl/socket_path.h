// Where portalctl finds the control socket.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "cli.h"
#include "portal/result.h"

namespace portal::tools {

inline constexpr const char* kDefaultCtlSocket = "/run/portal/ctl.sock";
inline constexpr const char* kCtlSocketEnv = "PORTAL_CTL_SOCKET";

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// -s SOCKET; else from -c CONFIG (socket_from_config); else $PORTAL_CTL_SOCKET; else
// /run/portal/ctl.sock.
Result<std::string> resolve_socket(const Options& options, const EnvLookup& env);

// The socket named by a Portal config: `socket` of [mod_ctl], where a per-module file
// (<data_dir>/modules/core/mod_ctl.conf, then <data_dir>/modules/mod_ctl.conf, when
// [core] data_dir is set) overrides the main file as portald reads them; else
// [core] ctl_socket. Relative paths are taken from the config file's directory.
Result<std::string> socket_from_config(const std::string& config_path);

}  // namespace portal::tools

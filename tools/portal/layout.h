// Where an instance lives (COMPAT.md 1.10 layout), under an optional prefix so that a whole
// instance can sit in any folder (tests, demos): `--prefix DIR` puts DIR in front of every
// path below; the default prefix is "/".
//
//   <prefix>/etc/portal/<n>/            portal.conf, modules/, users/, groups/, certs/ (data_dir)
//   <prefix>/var/lib/portal/<n>/        app data (data/)
//   <prefix>/var/log/portal/<n>/        logs
//   <prefix>/var/run/portal-<n>/        portald.pid, ctl.sock, cli.sock
//   <prefix>/etc/systemd/system/portal-<n>.service
#pragma once

#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::instance {

// 1-32 characters of [A-Za-z0-9_-], not starting with '-': names become paths and unit names.
Status validate_name(std::string_view name);

struct Layout {
  std::string prefix;  // "" means "/"
  std::string name;

  std::string etc_root() const { return prefix + "/etc/portal"; }
  std::string etc_dir() const { return etc_root() + "/" + name; }
  std::string config() const { return etc_dir() + "/portal.conf"; }
  std::string modules_dir() const { return etc_dir() + "/modules/core"; }
  std::string certs_dir() const { return etc_dir() + "/certs"; }
  std::string lib_dir() const { return prefix + "/var/lib/portal/" + name; }
  std::string log_dir() const { return prefix + "/var/log/portal/" + name; }
  std::string run_dir() const { return prefix + "/var/run/portal-" + name; }
  std::string pid_file() const { return run_dir() + "/portald.pid"; }
  std::string ctl_socket() const { return run_dir() + "/ctl.sock"; }
  std::string cli_socket() const { return run_dir() + "/cli.sock"; }
  std::string unit_file() const { return prefix + "/etc/systemd/system/portal-" + name + ".service"; }
};

// "" for "/" or empty; else the absolute, normalized folder without a trailing '/'.
Result<std::string> normalize_prefix(const std::string& prefix);

}  // namespace portal::instance

// `portal -C`, `-D`, `-s`: creating, deleting and listing instances (COMPAT.md 3.5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layout.h"
#include "portal/result.h"

namespace portal::instance {

struct Created {
  std::uint16_t http_port = 0;
  std::uint16_t https_port = 0;
  std::uint16_t node_port = 0;
  std::string root_password;
  std::string root_key;
  std::vector<std::string> modules;  // enabled at start
};

// Everything an instance needs to start: config, module configs, folders (0700 for
// secrets), root user and admin group, a self-signed certificate, a systemd unit. 409 when
// the instance exists. Modules whose library is not installed are written disabled.
Result<Created> create(const Layout& layout);
// Stops the instance if it runs, removes its unit and its etc folder (data under var/lib
// and logs stay, as in the original). 404 when there is no such instance.
Status remove(const Layout& layout);

struct Row {
  std::string name;
  std::string state;  // running | stopped | dead (pid file left by a process that is gone)
  int pid = 0;
  std::string http, https, node;
  int modules = 0;
};
std::vector<Row> list(const std::string& prefix);
std::string render(const std::vector<Row>& rows);

// The pid in the instance's pid file when that process is a live portald; else 0.
int running_pid(const Layout& layout);

// The summary `portal -C` prints (shows the root password and key once).
std::string summary(const Layout& layout, const Created& c);

}  // namespace portal::instance

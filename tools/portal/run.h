// `portal -n NAME` / `-c FILE`: start portald (in the foreground with -f, else as a daemon
// whose workers start after the fork, since portald itself starts them), and `-r`: the
// interactive CLI over the instance's socket in a raw terminal.
#pragma once

#include <string>

#include "layout.h"

namespace portal::instance {

struct RunOptions {
  std::string config;    // portal.conf
  std::string pid_file;  // written in daemon mode; empty: none
  std::string log_file;  // daemon mode: portald's stderr; empty: /dev/null
  bool foreground = false;
  bool debug = false;
};

// Foreground: replaces this process with portald (returns only on failure). Daemon: forks,
// the child detaches (setsid, stdio away) and becomes portald; the parent writes the pid
// file, prints "Portal started (pid N)" and returns 0.
int run_portald(const RunOptions& o);

// Relays a raw terminal (or plain stdin/stdout) to the CLI socket until either side closes.
int remote_shell(const std::string& socket_path);

}  // namespace portal::instance

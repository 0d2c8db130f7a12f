// systemd's notify protocol, without libsystemd: one datagram per notification to the
// AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
#pragma once

#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::supervisor {

class SdNotifier {
 public:
  // Reads $NOTIFY_SOCKET and removes it from the environment so that children do not
  // talk to systemd on their own. Disabled (every send a no-op) when it is not set.
  static SdNotifier from_environment();
  explicit SdNotifier(std::string socket_name = {}) : socket_(std::move(socket_name)) {}

  bool enabled() const { return !socket_.empty(); }
  // `state` is newline-separated assignments: "READY=1\nSTATUS=Running".
  Status notify(std::string_view state) const;

  Status ready(std::string_view status) const;
  Status status(std::string_view status) const;
  Status stopping() const;
  Status reloading() const;

 private:
  std::string socket_;
};

}  // namespace portal::supervisor

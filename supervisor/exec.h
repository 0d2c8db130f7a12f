// fork + exec of a helper binary with a fixed fd layout and optional hardening. Everything
// the child needs is prepared before fork; the child runs only async-signal-safe calls and
// reports a failure before exec through a close-on-exec pipe, so spawn errors are values.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "portal/result.h"
#include "supervisor/settings.h"

namespace portal::supervisor {

// A resolved `run_as`.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// "user[:group]" -> ids. Fails when the user or group does not exist, or when portald is
// not root and the identity differs from its own.
Result<Credentials> resolve_run_as(const std::string& run_as);

struct ExecSpec {
  std::string program;
  std::vector<std::string> args;  // argv[1..]
  // {fd in the parent, fd number in the child}; stdin is /dev/null, stdout and stderr are
  // inherited, every other fd is closed.
  std::vector<std::pair<int, int>> fds;
  const Hardening* hardening = nullptr;
};

// Returns the child's pid once it has exec'd (or the reason it could not).
Result<pid_t> spawn_process(const ExecSpec& spec);

}  // namespace portal::supervisor

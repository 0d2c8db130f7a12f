// Running a parsed portalctl command line against the control socket.
#pragma once

#include <cstdio>

#include "cli.h"
#include "ctl_client.h"
#include "portal/result.h"
#include "socket_path.h"

namespace portal::tools {

// The request a command sends (reads --body-file). Not for help and version.
Result<CtlRequest> build_request(const Options& options);

// Connects, sends, prints; returns the exit code (cli.h). The response body goes to `out`
// byte for byte; errors go to `err` as one "portalctl: ..." line.
int run(const Options& options, const EnvLookup& env, std::FILE* out, std::FILE* err);

}  // namespace portal::tools

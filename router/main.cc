// portal-router: started by portald with its end of the control socket.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "common/log.h"
#include "portal_build_config.h"
#include "router/router.h"

namespace {

void usage() {
  std::printf(
      "Usage: portal-router --control-fd N\n"
      "\n"
      "The Portal router: path table, routing, access checks, core paths.\n"
      "It is started by portald, which hands it the control socket as fd N;\n"
      "it is not meant to be run by hand.\n"
      "\n"
      "  --control-fd N   the supervisor's control socket (SOCK_SEQPACKET)\n"
      "  --help           this text\n"
      "  --version        print the version\n");
}

}  // namespace

int main(int argc, char** argv) {
  int control_fd = -1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    }
    if (a == "--version") {
      std::printf("portal-router (Portal) %s\n", PORTAL_VERSION);
      return 0;
    }
    if (a == "--control-fd" && i + 1 < argc) {
      std::string_view v = argv[++i];
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), control_fd);
      if (ec != std::errc() || p != v.data() + v.size() || control_fd < 0) control_fd = -1;
      continue;
    }
    std::fprintf(stderr, "portal-router: unknown argument '%s' (try --help)\n", argv[i]);
    return 2;
  }
  if (control_fd < 0) {
    std::fprintf(stderr, "portal-router: --control-fd N is required (it is started by portald)\n");
    return 2;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::signal(SIGPIPE, SIG_IGN);
  portal::router::EventLoop loop;
  portal::router::Router router(loop, control_fd);
  router.start();
  loop.run();
  portal::log::info("router", "stopped");
  return 0;
}

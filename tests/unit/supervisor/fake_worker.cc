// A stand-in for portal-worker in portald's process tests: checks what portald handed it
// (bootstrap, fd layout, nothing else left open), writes one line to $FAKE_LOG, then acts
// out its `fake_mode` setting:
//   run (default)   wait for SIGTERM, exit 0
//   ignore_term     ignore SIGTERM (portald must SIGKILL after the drain)
//   exit:N          exit with code N at once
//   crash_after:MS  die of SIGSEGV after MS milliseconds
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "fake_log.h"
#include "ipc/channel.h"
#include "portal.pb.h"

namespace {

bool read_bootstrap(int fd, portal::pb::WorkerBootstrap& out) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  std::string data(static_cast<std::size_t>(st.st_size), '\0');
  if (::pread(fd, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size())) return false;
  return out.ParseFromString(data);
}

bool fds_ok(const portal::pb::WorkerBootstrap& b, std::string& why) {
  if (b.transport() == "ring") {
    if (b.channel_fd() != 4 || b.wake_fd() != 5 || b.notify_fd() != 6) return why = "fd numbers", false;
    auto ch = portal::ipc::Channel::map(b.channel_fd(), portal::ipc::Side::worker, b.generation());
    if (!ch) return why = ch.error().message, false;
    if ((*ch)->ring_bytes() != b.ring_bytes()) return why = "ring_bytes", false;
  } else if (::fcntl(b.channel_fd(), F_GETFD) < 0) {
    return why = "uds fd", false;
  }
  int last = b.transport() == "ring" ? 6 : 4;
  for (int fd = 0; fd <= last; ++fd)
    if ((fd == 0 || fd >= 3) && ::fcntl(fd, F_GETFD) < 0) return why = "fd " + std::to_string(fd) + " missing", false;
  for (int fd = last + 1; fd < 256; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) return why = "fd " + std::to_string(fd) + " leaked", false;
  return true;
}

// "NoNewPrivs:\t1" from /proc/self/status.
std::string no_new_privs() {
  std::string status;
  char buf[4096];
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  for (ssize_t n; fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0;) status.append(buf, static_cast<std::size_t>(n));
  if (fd >= 0) ::close(fd);
  auto p = status.find("NoNewPrivs:");
  return p == std::string::npos ? "?" : status.substr(status.find_first_not_of(" \t", p + 11), 1);
}

std::string limits() {
  rlimit nofile{}, as{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  ::getrlimit(RLIMIT_AS, &as);
  auto text = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("inf") : std::to_string(v); };
  return " nofile=" + text(nofile.rlim_cur) + " as=" + text(as.rlim_cur);
}

std::string describe(const portal::pb::WorkerBootstrap& b) {
  std::string s = "worker start module=" + b.module() + " gen=" + std::to_string(b.generation()) +
                  " pid=" + std::to_string(::getpid()) + " transport=" + b.transport() +
                  " threads=" + std::to_string(b.threads()) + " ring=" + std::to_string(b.ring_bytes()) +
                  " timeout=" + std::to_string(b.call_timeout_ms()) + " instance=" + b.instance() +
                  " level=" + b.log_level() + " uid=" + std::to_string(::getuid()) +
                  " gid=" + std::to_string(::getgid()) + " nnp=" + no_new_privs() + limits();
  for (const auto& [k, v] : b.config()) s += " cfg." + k + "=" + v;
  return s;
}

// SIGTERM is blocked from the start of main, so one sent early waits for sigwait.
[[noreturn]] void wait_for_term(const std::string& module, bool ignore) {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGTERM);
  if (ignore) {
    ::signal(SIGTERM, SIG_IGN);
    ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  }
  for (;;) {
    if (ignore) {
      ::pause();
      continue;
    }
    int sig = 0;
    ::sigwait(&set, &sig);
    fake_log("worker term module=" + module + " pid=" + std::to_string(::getpid()));
    std::exit(0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t term;
  ::sigemptyset(&term);
  ::sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, nullptr);
  if (argc != 3 || std::strcmp(argv[1], "--bootstrap-fd") != 0) {
    fake_log("worker bad-args");
    return 64;
  }
  portal::pb::WorkerBootstrap b;
  if (!read_bootstrap(std::atoi(argv[2]), b)) {
    fake_log("worker bad-bootstrap");
    return 65;
  }
  std::string why;
  bool ok = fds_ok(b, why);
  fake_log(describe(b) + (ok ? " fds=ok" : " fds=bad:" + why));
  std::string mode = b.config().count("fake_mode") ? b.config().at("fake_mode") : "run";
  if (mode.starts_with("exit:")) return std::atoi(mode.c_str() + 5);
  if (mode.starts_with("crash_after:")) {
    ::usleep(static_cast<useconds_t>(std::atoi(mode.c_str() + 12)) * 1000);
    ::raise(SIGSEGV);
  }
  wait_for_term(b.module(), mode == "ignore_term");
}

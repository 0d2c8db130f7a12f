#include "supervisor/child.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cerrno>

#include "portal/result.h"

namespace portal::supervisor {

namespace {

constexpr idtype_t kIdPidfd = static_cast<idtype_t>(3);  // P_PIDFD (linux/wait.h)

// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++: the raw system calls instead.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u)); }
int pidfd_send_signal(int fd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0u));
}

}  // namespace

ExitKind ExitStatus::kind() const {
  if (signaled || value != 0)
    return !signaled && value == kExitFatalConfig ? ExitKind::fatal_config : ExitKind::failure;
  return ExitKind::clean;
}

std::string ExitStatus::describe() const {
  if (!signaled) {
    std::string s = "exit " + std::to_string(value);
    if (value == kExitFatalConfig) s += " (fatal configuration)";
    return s;
  }
  const char* what = ::sigdescr_np(value);
  std::string s = "signal " + std::to_string(value) + " (" + (what ? what : "unknown");
  return s + (core_dumped ? ", core dumped)" : ")");
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::watch(boost::asio::io_context& io, pid_t pid) {
  int fd = pidfd_open(pid);
  if (fd < 0) return make_error(500, std::string("pidfd_open: ") + ::strerror(errno));
  return std::unique_ptr<ChildProcess>(new ChildProcess(io, pid, fd));
}

ChildProcess::ChildProcess(boost::asio::io_context& io, pid_t pid, int pidfd) : pid_(pid), pidfd_(io, pidfd) {}

ChildProcess::~ChildProcess() {
  if (exited_ || !pidfd_.is_open()) return;
  signal(SIGKILL);
  ExitStatus ignored;
  try_reap(ignored, true);
}

bool ChildProcess::signal(int sig) {
  if (exited_) return false;
  return pidfd_send_signal(pidfd_.native_handle(), sig) == 0;
}

bool ChildProcess::try_reap(ExitStatus& out, bool block) {
  siginfo_t si{};
  int rc;
  do {
    rc = ::waitid(kIdPidfd, static_cast<id_t>(pidfd_.native_handle()), &si, WEXITED | (block ? 0 : WNOHANG));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    // ECHILD: reaped elsewhere; report it as gone rather than wait forever.
    exited_ = true;
    out = ExitStatus{true, SIGKILL, false};
    return true;
  }
  if (si.si_pid == 0) return false;
  exited_ = true;
  out.signaled = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
  out.core_dumped = si.si_code == CLD_DUMPED;
  out.value = si.si_status;
  return true;
}

void ChildProcess::on_exit(ExitCallback done) {
  done_ = std::move(done);
  arm();
}

void ChildProcess::arm() {
  pidfd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: `this` may be gone
    ExitStatus st;
    if (!try_reap(st, false)) return arm();
    auto done = std::move(done_);
    if (done) done(st);  // may destroy *this: nothing after it
  });
}

}  // namespace portal::supervisor

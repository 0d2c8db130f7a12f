// A child process watched through its pidfd on the io_context: the exit is seen the moment
// it happens (no SIGCHLD, no polling), and signals go through the pidfd so a recycled pid
// is never hit.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "portal/result.h"
#include "supervisor/restart_policy.h"

namespace portal::supervisor {

struct ExitStatus {
  bool signaled = false;
  int value = 0;  // exit code, or signal number
  bool core_dumped = false;

  ExitKind kind() const;
  // "exit 0", "exit 78 (fatal configuration)", "signal 9 (Killed)".
  std::string describe() const;
};

class ChildProcess {
 public:
  using ExitCallback = std::function<void(ExitStatus)>;

  // Takes a pidfd for `pid` (which must be our unreaped child).
  static Result<std::unique_ptr<ChildProcess>> watch(boost::asio::io_context& io, pid_t pid);
  // A child still running is killed and reaped: nothing is left behind.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_; }
  bool signal(int sig);
  // `done` runs once, from the io_context, after the child exited and was reaped. It may
  // destroy this object.
  void on_exit(ExitCallback done);

 private:
  ChildProcess(boost::asio::io_context& io, pid_t pid, int pidfd);
  void arm();
  bool try_reap(ExitStatus& out, bool block);

  pid_t pid_;
  boost::asio::posix::stream_descriptor pidfd_;
  ExitCallback done_;
  bool exited_ = false;
};

}  // namespace portal::supervisor

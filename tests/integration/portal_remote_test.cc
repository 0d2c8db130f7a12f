// `portal -r` as a person uses it: an instance made with `portal -C` under a --prefix folder,
// run as a daemon, and the interactive shell driven through a real pseudo-terminal —
// Tab completion of commands and paths, relative `cd`, Ctrl-D (issue 4).
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "instance.h"

namespace portal::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string portal_cmd(const std::string& prefix, const std::string& args) {
  return build_root() + "/tools/portal --prefix " + prefix + " " + args;
}

class Pty {
 public:
  explicit Pty(const std::vector<std::string>& argv) {
    pid_ = ::forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Pty() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  void type(const std::string& keys) { (void)!::write(fd_, keys.data(), keys.size()); }
  // Reads until `needle` shows up (after what earlier calls consumed) or the deadline passes.
  bool expect(const std::string& needle, std::chrono::milliseconds within = 10s) {
    auto until = std::chrono::steady_clock::now() + within;
    for (;;) {
      std::size_t at = seen_.find(needle, mark_);
      if (at != std::string::npos) {
        mark_ = at + needle.size();
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return false;
      seen_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // The exit status once the program ended by itself, or -1.
  int wait_exit(std::chrono::milliseconds within = 10s) {
    auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      char buf[4096];
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n > 0) seen_.append(buf, static_cast<std::size_t>(n));
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
    }
    return -1;
  }
  const std::string& seen() const { return seen_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string seen_;
  std::size_t mark_ = 0;
};

TEST(PortalRemote, InteractiveShellWithTabCompletionThroughATerminal) {
  char tmpl[] = "/tmp/portal-remote-XXXXXX";
  std::string prefix = ::mkdtemp(tmpl);
  auto [rc, out] = run_command(portal_cmd(prefix, "-C shell 2>&1"));
  ASSERT_EQ(rc, 0) << out;
  ASSERT_NE(out.find("cli"), std::string::npos) << "the cli module is part of the instance: " << out;
  std::tie(rc, out) = run_command(portal_cmd(prefix, "-n shell 2>&1"));
  ASSERT_EQ(rc, 0) << out;
  std::string socket = prefix + "/var/run/portal-shell/cli.sock";
  for (int i = 0; i < 300 && !fs::exists(socket); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(fs::exists(socket));
  {
    Pty term({build_root() + "/tools/portal", "--prefix", prefix, "-n", "shell", "-r"});
    ASSERT_TRUE(term.expect("Type 'help' for available commands.")) << term.seen();
    ASSERT_TRUE(term.expect("portal:/> ")) << term.seen();
    term.type("versi\t");  // one match: completed in place
    ASSERT_TRUE(term.expect("on")) << term.seen();
    term.type("\r");
    EXPECT_TRUE(term.expect("Portal v2.0.0")) << term.seen();
    term.type("cd /hel\t");  // a path: completed from /core/ls
    ASSERT_TRUE(term.expect("lo")) << term.seen();
    term.type("\r");
    EXPECT_TRUE(term.expect("portal:/hello> ")) << term.seen();
    term.type("get resources/greeting\r");
    EXPECT_TRUE(term.expect("Hello from Portal!")) << term.seen();
    term.type("whoami\r");
    // The instance maps the local UNIX root to Portal's root (peer_users = 0:root).
    EXPECT_TRUE(term.expect(::getuid() == 0 ? "User: root" : "anonymous")) << term.seen();
    term.type("\x04");  // Ctrl-D on an empty line leaves
    EXPECT_EQ(term.wait_exit(), 0) << term.seen();
  }
  std::tie(rc, out) = run_command(portal_cmd(prefix, "-D shell 2>&1"));
  EXPECT_EQ(rc, 0) << out;
  fs::remove_all(prefix);
}

}  // namespace
}  // namespace portal::itest

// The pieces under the supervisor: systemd notify, exit descriptions, the worker bootstrap,
// spawning and watching a child, program lookup.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "supervisor/child.h"
#include "supervisor/exec.h"
#include "supervisor/locate.h"
#include "supervisor/sd_notify.h"
#include "supervisor/spawner.h"
#include "temp_dir.h"

namespace portal::supervisor {
namespace {

// A datagram socket bound to `name` ("/path" or "@abstract").
ipc::UniqueFd bind_dgram(const std::string& name) {
  ipc::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/'));
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
  return fd;
}

std::string recv_text(int fd) {
  char buf[1024];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

TEST(SdNotify, PathSocket) {
  TempDir t;
  auto sock = bind_dgram(t / "notify");
  SdNotifier n(t / "notify");
  ASSERT_TRUE(n.ready("2 modules (2 running)").ok());
  EXPECT_EQ(recv_text(sock.get()), "READY=1\nSTATUS=2 modules (2 running)");
  ASSERT_TRUE(n.stopping().ok());
  EXPECT_EQ(recv_text(sock.get()), "STOPPING=1\nSTATUS=Stopping");
}

TEST(SdNotify, AbstractSocket) {
  std::string name = "@portald-test-" + std::to_string(::getpid());
  auto sock = bind_dgram(name);
  SdNotifier n(name);
  ASSERT_TRUE(n.status("hello").ok());
  EXPECT_EQ(recv_text(sock.get()), "STATUS=hello");
}

TEST(SdNotify, DisabledWithoutSocketAndUnsetsEnvironment) {
  ::setenv("NOTIFY_SOCKET", "@nobody-listens-here", 1);
  SdNotifier n = SdNotifier::from_environment();
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  EXPECT_TRUE(n.enabled());
  EXPECT_FALSE(n.ready("x").ok());  // nobody bound: an error value, not a crash
  EXPECT_TRUE(SdNotifier().ready("x").ok());
}

TEST(ExitStatus, Describe) {
  EXPECT_EQ((ExitStatus{false, 0, false}).describe(), "exit 0");
  EXPECT_EQ((ExitStatus{false, 0, false}).kind(), ExitKind::clean);
  EXPECT_EQ((ExitStatus{false, 3, false}).kind(), ExitKind::failure);
  EXPECT_EQ((ExitStatus{false, 78, false}).describe(), "exit 78 (fatal configuration)");
  EXPECT_EQ((ExitStatus{false, 78, false}).kind(), ExitKind::fatal_config);
  EXPECT_EQ((ExitStatus{true, 9, false}).describe(), "signal 9 (Killed)");
  EXPECT_EQ((ExitStatus{true, 11, true}).describe(), "signal 11 (Segmentation fault, core dumped)");
  EXPECT_EQ((ExitStatus{true, 15, false}).kind(), ExitKind::failure);
}

TEST(Bootstrap, CarriesModuleSettingsAndFixedFds) {
  ModuleSettings m;
  m.name = "hello";
  m.library = "/x/mod_hello.so";
  m.threads = 3;
  m.ring_bytes = 65536;
  m.busy_poll_us = 20;
  m.timeout_ms = 1234;
  m.values = {{"greeting", "hi"}};
  pb::WorkerBootstrap b = make_bootstrap(WorkerLaunch{"/bin/worker", &m, "inst", "debug", 42});
  EXPECT_EQ(b.module(), "hello");
  EXPECT_EQ(b.library(), "/x/mod_hello.so");
  EXPECT_EQ(b.generation(), 42u);
  EXPECT_EQ(b.threads(), 3u);
  EXPECT_EQ(b.config().at("greeting"), "hi");
  EXPECT_EQ(b.transport(), "ring");
  EXPECT_EQ(b.ring_bytes(), 65536u);
  EXPECT_EQ(b.channel_fd(), 4);
  EXPECT_EQ(b.wake_fd(), 5);
  EXPECT_EQ(b.notify_fd(), 6);
  EXPECT_EQ(b.instance(), "inst");
  EXPECT_EQ(b.log_level(), "debug");
  EXPECT_EQ(b.busy_poll_us(), 20u);
  EXPECT_EQ(b.call_timeout_ms(), 1234u);
  m.transport = Transport::uds;
  b = make_bootstrap(WorkerLaunch{"/bin/worker", &m, "inst", "info", 43});
  EXPECT_EQ(b.transport(), "uds");
  EXPECT_EQ(b.wake_fd(), -1);
}

TEST(Bootstrap, MemfdIsSealedAndRewound) {
  pb::WorkerBootstrap b;
  b.set_module("m");
  b.set_generation(7);
  auto fd = bootstrap_memfd(b);
  ASSERT_TRUE(fd.ok());
  char buf[256];
  ssize_t n = ::read(fd->get(), buf, sizeof buf);  // from the shared offset: must be 0
  pb::WorkerBootstrap back;
  ASSERT_TRUE(back.ParseFromArray(buf, static_cast<int>(n)));
  EXPECT_EQ(back.module(), "m");
  EXPECT_EQ(back.generation(), 7u);
  EXPECT_LT(::pwrite(fd->get(), "x", 1, 0), 0);
  EXPECT_EQ(errno, EPERM);
}

TEST(Spawn, ExecFailureIsAValue) {
  ExecSpec spec;
  spec.program = "/nonexistent/portal-worker";
  auto pid = spawn_process(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().message, "exec /nonexistent/portal-worker: No such file or directory");
}

TEST(Spawn, RunsAndPassesFds) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ipc::UniqueFd r(p[0]), w(p[1]);
  ExecSpec spec;
  spec.program = "/usr/bin/test";
  spec.args = {"-e", "/proc/self/fd/5"};  // fd 5 exists in the child: exit 0
  spec.fds = {{w.get(), 5}};
  auto pid = spawn_process(spec);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  spec.args = {"-e", "/proc/self/fd/6"};  // nothing else is passed on: exit 1
  pid = spawn_process(spec);
  ASSERT_TRUE(pid.ok());
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

TEST(Spawn, RunAsUnknownUserFails) {
  Hardening h;
  h.run_as = "no-such-user-portald";
  ExecSpec spec;
  spec.program = "/bin/true";
  spec.hardening = &h;
  auto pid = spawn_process(spec);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().message.find("no user 'no-such-user-portald'"), std::string::npos);
}

TEST(ChildProcess, ReportsExitThroughPidfd) {
  boost::asio::io_context io;
  ExecSpec spec;
  spec.program = "/bin/sleep";
  spec.args = {"30"};
  auto pid = spawn_process(spec);
  ASSERT_TRUE(pid.ok());
  auto child = ChildProcess::watch(io, *pid);
  ASSERT_TRUE(child.ok());
  std::string seen;
  (*child)->on_exit([&](ExitStatus st) { seen = st.describe(); });
  ASSERT_TRUE((*child)->signal(SIGKILL));
  io.run();
  EXPECT_EQ(seen, "signal 9 (Killed)");
  EXPECT_TRUE((*child)->exited());
}

TEST(ChildProcess, DestructorKillsAndReaps) {
  boost::asio::io_context io;
  ExecSpec spec;
  spec.program = "/bin/sleep";
  spec.args = {"30"};
  auto pid = spawn_process(spec);
  ASSERT_TRUE(pid.ok());
  {
    auto child = ChildProcess::watch(io, *pid);
    ASSERT_TRUE(child.ok());
  }
  EXPECT_EQ(::kill(*pid, 0), -1);  // reaped: not even a zombie
  EXPECT_EQ(errno, ESRCH);
}

TEST(Locate, ProgramsFromEnvironment) {
  ::setenv("PORTAL_ROUTER_BIN", "/bin/true", 1);
  ::setenv("PORTAL_WORKER_BIN", "/bin/false", 1);
  auto p = find_programs(SearchRoots{});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->router, "/bin/true");
  EXPECT_EQ(p->worker, "/bin/false");
  ::setenv("PORTAL_WORKER_BIN", "/nonexistent", 1);
  EXPECT_FALSE(find_programs(SearchRoots{}).ok());
  ::unsetenv("PORTAL_ROUTER_BIN");
  ::unsetenv("PORTAL_WORKER_BIN");
  TempDir t;
  auto missing = find_programs(SearchRoots{"", "", t / "libexec"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(t / "libexec/portal-router"), std::string::npos);
}

}  // namespace
}  // namespace portal::supervisor

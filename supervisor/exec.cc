#include "supervisor/exec.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "ipc/channel.h"

namespace portal::supervisor {

namespace {

constexpr int kMaxChildFds = 16;
constexpr int kMaxTargetFd = 31;
constexpr int kScratchFd = 64;  // above every target: moving fds there cannot clobber one

enum Stage : int {
  kStageFds = 1,
  kStageRlimit,
  kStageGroups,
  kStageGid,
  kStageUid,
  kStageParent,
  kStageNnp,
  kStageExec
};

const char* stage_name(int stage) {
  switch (stage) {
    case kStageFds: return "set up fds";
    case kStageRlimit: return "setrlimit";
    case kStageGroups: return "setgroups";
    case kStageGid: return "setgid";
    case kStageUid: return "setuid";
    case kStageParent: return "parent exited";
    case kStageNnp: return "no_new_privs";
    case kStageExec: return "exec";
  }
  return "spawn";
}

struct ChildError {
  int stage;
  int err;
};

// Everything the child reads, laid out before fork (no allocation after it).
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  int src[kMaxChildFds];
  int dst[kMaxChildFds];
  int count = 0;
  int max_dst = 2;
  int err_fd = -1;
  pid_t parent = 0;
  const Credentials* creds = nullptr;
  bool no_new_privs = false;
  bool set_nofile = false;
  rlimit nofile{};
  bool set_as = false;
  rlimit as{};
};

[[noreturn]] void child_fail(int fd, int stage) {
  ChildError e{stage, errno};
  ssize_t rc = ::write(fd, &e, sizeof e);
  (void)rc;
  ::_exit(127);
}

void reset_signals() {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) ::sigaction(s, &sa, nullptr);  // EINVAL for some: harmless
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Returns the error pipe's final fd number.
int place_fds(const ChildPlan& p) {
  int err = ::fcntl(p.err_fd, F_DUPFD_CLOEXEC, kScratchFd);
  if (err < 0) child_fail(p.err_fd, kStageFds);
  int tmp[kMaxChildFds];
  for (int i = 0; i < p.count; ++i)
    if ((tmp[i] = ::fcntl(p.src[i], F_DUPFD_CLOEXEC, kScratchFd)) < 0) child_fail(err, kStageFds);
  for (int i = 0; i < p.count; ++i)
    if (::dup2(tmp[i], p.dst[i]) < 0) child_fail(err, kStageFds);  // dup2 clears close-on-exec
  int final_err = p.max_dst + 1;
  if (::dup3(err, final_err, O_CLOEXEC) < 0) child_fail(err, kStageFds);
  ::close_range(static_cast<unsigned>(final_err + 1), ~0u, 0);
  return final_err;
}

[[noreturn]] void run_child(const ChildPlan& p) {
  reset_signals();
  // Our own process group: a Ctrl-C on portald's terminal reaches portald alone, which then
  // stops the children in order (they still die with portald through PDEATHSIG).
  ::setpgid(0, 0);
  int err = place_fds(p);
  if (p.set_nofile && ::setrlimit(RLIMIT_NOFILE, &p.nofile) != 0) child_fail(err, kStageRlimit);
  if (p.set_as && ::setrlimit(RLIMIT_AS, &p.as) != 0) child_fail(err, kStageRlimit);
  if (p.creds) {
    if (::setgroups(p.creds->groups.size(), p.creds->groups.data()) != 0) child_fail(err, kStageGroups);
    if (::setgid(p.creds->gid) != 0) child_fail(err, kStageGid);
    if (::setuid(p.creds->uid) != 0) child_fail(err, kStageUid);
  }
  // After the credential change, which clears it.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != p.parent) {
    errno = ESRCH;
    child_fail(err, kStageParent);
  }
  if (p.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(err, kStageNnp);
  ::execv(p.path, p.argv);
  child_fail(err, kStageExec);
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

Result<gid_t> lookup_group(const std::string& name) {
  if (all_digits(name)) return static_cast<gid_t>(std::stoul(name));
  group gr, *found = nullptr;
  char buf[16384];
  if (::getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &found) != 0 || !found)
    return make_error(404, "run_as: no group '" + name + "'");
  return found->gr_gid;
}

void apply_limits(const Hardening& h, ChildPlan& plan) {
  if (h.limit_nofile) {
    plan.set_nofile = true;
    plan.nofile.rlim_cur = plan.nofile.rlim_max = static_cast<rlim_t>(*h.limit_nofile);
  }
  if (h.limit_memory) {
    plan.set_as = true;
    plan.as.rlim_cur = plan.as.rlim_max = static_cast<rlim_t>(*h.limit_memory);
  }
  plan.no_new_privs = h.no_new_privs;
}

}  // namespace

Result<Credentials> resolve_run_as(const std::string& run_as) {
  auto colon = run_as.find(':');
  std::string user = run_as.substr(0, colon);
  std::string group = colon == std::string::npos ? "" : run_as.substr(colon + 1);
  passwd pw, *found = nullptr;
  char buf[16384];
  Credentials c;
  if (::getpwnam_r(user.c_str(), &pw, buf, sizeof buf, &found) == 0 && found) {
    c.uid = found->pw_uid;
    c.gid = found->pw_gid;
  } else if (all_digits(user)) {
    c.uid = c.gid = static_cast<uid_t>(std::stoul(user));
  } else {
    return make_error(404, "run_as: no user '" + user + "'");
  }
  if (!group.empty()) {
    auto g = lookup_group(group);
    if (!g) return g.error();
    c.gid = *g;
  }
  c.groups.assign(64, 0);
  int n = static_cast<int>(c.groups.size());
  if (found && ::getgrouplist(found->pw_name, c.gid, c.groups.data(), &n) >= 0)
    c.groups.resize(static_cast<std::size_t>(n));
  else
    c.groups.assign(1, c.gid);
  if (::geteuid() != 0 && (c.uid != ::geteuid() || c.gid != ::getegid()))
    return make_error(403, "run_as = " + run_as + " needs portald to run as root");
  return c;
}

namespace {

// What the child's plan points into; lives on the parent's stack across fork.
struct Prepared {
  std::vector<std::string> args;
  std::vector<char*> argv;
  std::optional<Credentials> creds;
  ipc::UniqueFd devnull;
  ChildPlan plan;
};

Status prepare(const ExecSpec& spec, Prepared& p) {
  if (spec.fds.size() + 3 > kMaxChildFds) return make_error(500, "spawn: too many fds");
  p.args.push_back(spec.program);
  p.args.insert(p.args.end(), spec.args.begin(), spec.args.end());
  for (auto& a : p.args) p.argv.push_back(a.data());
  p.argv.push_back(nullptr);
  p.plan.path = spec.program.c_str();
  p.plan.argv = p.argv.data();
  if (spec.hardening) {
    apply_limits(*spec.hardening, p.plan);
    if (!spec.hardening->run_as.empty()) {
      auto c = resolve_run_as(spec.hardening->run_as);
      if (!c) return c.error();
      p.creds = std::move(*c);
      if (::geteuid() == 0) p.plan.creds = &*p.creds;  // otherwise it is our own identity
    }
  }
  p.devnull.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  auto map_fd = [&](int src, int dst) {
    p.plan.src[p.plan.count] = src;
    p.plan.dst[p.plan.count++] = dst;
    p.plan.max_dst = std::max(p.plan.max_dst, dst);
  };
  if (p.devnull) map_fd(p.devnull.get(), 0);
  for (int std_fd : {1, 2})
    if (::fcntl(std_fd, F_GETFD) >= 0) map_fd(std_fd, std_fd);
  for (auto [src, dst] : spec.fds) {
    if (dst < 3 || dst > kMaxTargetFd) return make_error(500, "spawn: bad target fd");
    map_fd(src, dst);
  }
  return {};
}

// Forks, runs the plan in the child, and waits until it exec'd or reported why not.
Result<pid_t> fork_exec(ChildPlan& plan, const std::string& program) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return make_error(500, std::string("pipe2: ") + std::strerror(errno));
  ipc::UniqueFd err_read(pipefd[0]), err_write(pipefd[1]);
  plan.err_fd = err_write.get();
  plan.parent = ::getpid();
  // No signal handler may run in the child before it resets them (asio's would write to
  // the parent's signal pipe).
  sigset_t all, old;
  ::sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) run_child(plan);
  int fork_errno = errno;
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  err_write.reset();
  if (pid < 0) return make_error(500, std::string("fork: ") + std::strerror(fork_errno));
  ChildError e{};
  ssize_t n;
  while ((n = ::read(err_read.get(), &e, sizeof e)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return pid;  // exec'd (the pipe closed on exec)
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return make_error(500, std::string(stage_name(e.stage)) + (e.stage == kStageExec ? " " + program : "") + ": " +
                             std::strerror(e.err));
}

}  // namespace

Result<pid_t> spawn_process(const ExecSpec& spec) {
  Prepared p;
  if (auto st = prepare(spec, p); !st) return st.error();
  return fork_exec(p.plan, spec.program);
}

}  // namespace portal::supervisor

#include "pg_server.h"

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace portal::config_psql::testing {

namespace fs = std::filesystem;

namespace {

// The newest /usr/lib/postgresql/<version>/bin that has both initdb and postgres
// (PORTAL_PG_BINDIR overrides).
std::string find_bin_dir() {
  if (const char* env = std::getenv("PORTAL_PG_BINDIR")) {
    fs::path bin(env);
    return fs::exists(bin / "initdb") && fs::exists(bin / "postgres") ? bin.string() : std::string();
  }
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "postgres")) continue;
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version) best_version = version, best = bin.string();
  }
  return best;
}

bool running_as_root() { return ::geteuid() == 0; }

}  // namespace

std::string PgServer::unavailable_reason() {
  if (find_bin_dir().empty())
    return "no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin: "
           "install the postgresql package (tools/setup.sh does) or set PORTAL_PG_BINDIR";
  if (running_as_root() && ::getpwnam("postgres") == nullptr)
    return "running as root and there is no 'postgres' system user to run initdb and postgres as "
           "(they refuse root): install the postgresql package, which creates it";
  return {};
}

PgServer::~PgServer() {
  stop();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

bool PgServer::init(std::string& error) {
  bin_ = find_bin_dir();
  if (std::string why = unavailable_reason(); !why.empty()) return error = why, false;
  if (running_as_root()) {
    const passwd* pw = ::getpwnam("postgres");
    drop_to_postgres_ = true;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  }
  char tmpl[] = "/tmp/portal-psql-test-XXXXXX";
  if (!::mkdtemp(tmpl)) return error = "mkdtemp failed", false;
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0755);
  if (drop_to_postgres_ && ::chown(dir_.c_str(), uid_, gid_) != 0) return error = "cannot chown " + dir_, false;
  pid_t pid = spawn({bin_ + "/initdb", "-D", dir_ + "/data", "-U", kUser, "--auth=trust", "--locale=C", "-E",
                     "UTF8", "--no-sync"});
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return error = "initdb failed:\n" + log(), false;
  return true;
}

bool PgServer::start(std::string& error) {
  if (pid_ > 0) return true;
  // fsync = off: a test server need not survive a power cut, and the shutdown checkpoint
  // of a dozen new databases would otherwise take many seconds. A committed write still
  // survives a server restart, which is what the fault tests check.
  pid_ = spawn({bin_ + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-p", std::to_string(kPort), "-c",
                "listen_addresses=", "-c", "fsync=off"});
  if (pid_ < 0) return error = "cannot start postgres", false;
  return wait_ready(error);
}

bool PgServer::wait_ready(std::string& error) {
  std::string port = std::to_string(kPort);
  const char* keys[] = {"host", "port", "user", "dbname", nullptr};
  const char* values[] = {dir_.c_str(), port.c_str(), kUser, "postgres", nullptr};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQpingParams(keys, values, 0) == PQPING_OK) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return error = "postgres exited during start-up:\n" + log(), false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  return error = "postgres did not accept connections within 60 s:\n" + log(), false;
}

void PgServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

std::string PgServer::log() const {
  std::ifstream in(dir_ + "/server.log");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// fork + exec with an argument vector (no shell). Everything the child needs is prepared
// before fork(): after it, only async-signal-safe calls.
pid_t PgServer::spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::string log_path = dir_ + "/server.log";
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) ::_exit(126);
  ::dup2(null_fd, 0);
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
  if (drop_to_postgres_) {
    if (::fchown(log_fd, uid_, gid_) != 0 || ::setgroups(1, &gid_) != 0 || ::setgid(gid_) != 0 ||
        ::setuid(uid_) != 0)
      ::_exit(126);
  }
  if (::chdir(dir_.c_str()) != 0) ::_exit(126);
  // A test that dies must not leave a server behind (set after setuid, which clears it).
  ::prctl(PR_SET_PDEATHSIG, SIGINT);
  if (::getppid() != parent) ::_exit(126);
  ::execv(args[0], args.data());
  ::_exit(127);
}

}  // namespace portal::config_psql::testing

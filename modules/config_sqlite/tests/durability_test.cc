// Durability under kill -9: a child process loads the module (on a stub router of its
// own) and saves users in a loop, writing each name to a pipe only after the 200. The
// parent SIGKILLs it at a random moment, then opens the file with SQLite: the file must
// pass integrity_check and hold every acknowledged user. Every round reuses the same file,
// so each start also recovers the WAL the previous victim left behind.
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>

#include "fixture.h"

namespace portal::config_sqlite::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRounds = 100;

// The child: never returns, never runs gtest or atexit code.
[[noreturn]] void writer(const std::string& db_path, int round, int out_fd) {
  StubRouter stub;
  stub.set_config("database", db_path);
  if (!stub.load_library(MOD_CONFIG_SQLITE_PATH)) ::_exit(2);
  for (int i = 0;; ++i) {
    std::string name = "r" + std::to_string(round) + "_" + std::to_string(i);
    Message m = make_message(Method::set, "/config_sqlite/storage/user");
    m.headers = {{"name", name}, {"password_hash", "h" + name}, {"api_key", ""}, {"groups", "users"}};
    if (stub.request(std::move(m)).status != 200) ::_exit(3);
    name += '\n';  // one short write: atomic on a pipe
    if (::write(out_fd, name.data(), name.size()) != static_cast<ssize_t>(name.size())) ::_exit(4);
  }
}

// Reads what is in the pipe until `until` (or EOF when `until` is max()).
void drain(int fd, std::string& into, Clock::time_point until) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (until != Clock::time_point::max() && left <= 0) return;
    pollfd p{fd, POLLIN, 0};
    int timeout = until == Clock::time_point::max() ? -1 : static_cast<int>(left);
    if (::poll(&p, 1, timeout) <= 0) return;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return;
    into.append(buf, static_cast<std::size_t>(n));
  }
}

TEST(Durability, AcknowledgedWritesSurviveKill9) {
  std::string dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  std::string db_path = dir + "/portal.db";
  std::random_device rd;
  unsigned seed = rd();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  std::set<std::string> acked;
  int rounds_with_writes = 0;
  auto started = Clock::now();

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("seed " + std::to_string(seed) + ", round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      writer(db_path, round, fds[1]);
    }
    ::close(fds[1]);
    std::string out;
    if (round % 10 != 0) {
      // Most rounds: wait for the first acknowledgement (the module is open), then kill it
      // while it writes. Every tenth round kills it anywhere, opening and migrating included.
      auto give_up = Clock::now() + std::chrono::seconds(10);
      while (out.find('\n') == std::string::npos && Clock::now() < give_up)
        drain(fds[0], out, std::min(give_up, Clock::now() + std::chrono::milliseconds(50)));
      ASSERT_NE(out.find('\n'), std::string::npos) << "no write acknowledged within 10 s";
    }
    drain(fds[0], out, Clock::now() + std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    drain(fds[0], out, Clock::time_point::max());  // what it acknowledged before it died
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "the writer stopped by itself (exit " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1) << ")";

    std::size_t before = acked.size();
    for (std::size_t pos = 0, nl; (nl = out.find('\n', pos)) != std::string::npos; pos = nl + 1)
      acked.insert(out.substr(pos, nl - pos));
    if (acked.size() > before) ++rounds_with_writes;

    Db db(db_path);
    ASSERT_EQ(db.column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    // A writer killed before its first migration committed leaves no tables (and acked nothing).
    if (db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'users'") == "0") {
      ASSERT_TRUE(acked.empty()) << "the users table vanished";
      continue;
    }
    std::vector<std::string> stored = db.column("SELECT username FROM users");
    std::set<std::string> present(stored.begin(), stored.end());
    for (const std::string& name : acked) ASSERT_TRUE(present.count(name)) << "acknowledged, then lost: " << name;
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  std::printf("[ durability ] %d rounds in %lld ms, %zu acknowledged writes, %d rounds killed mid-writing\n", kRounds,
              static_cast<long long>(took.count()), acked.size(), rounds_with_writes);
  EXPECT_GE(rounds_with_writes, kRounds * 9 / 10) << "nine rounds in ten die while writing";
  fs::remove_all(dir);
}

// A full disk (here: RLIMIT_FSIZE, so writes fail with EFBIG) answers 503, the writes
// acknowledged before stay, and reads keep working.
TEST(Durability, FullDiskAnswers503) {
  std::string dir = make_temp_dir();
  ASSERT_FALSE(dir.empty());
  std::string db_path = dir + "/portal.db";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    StubRouter stub;
    stub.set_config("database", db_path);
    if (!stub.load_library(MOD_CONFIG_SQLITE_PATH)) ::_exit(2);
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{512 * 1024, 512 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
    std::string report;
    for (int i = 0; i < 100; ++i) {
      std::string name = "u" + std::to_string(i);
      Message m = make_message(Method::set, "/config_sqlite/storage/user");
      m.headers = {{"name", name}, {"password_hash", std::string(32 * 1024, 'p')}, {"api_key", ""}, {"groups", ""}};
      Response r = stub.request(std::move(m));
      if (r.status == 200) {
        report += name + "\n";
        continue;
      }
      report += "status " + std::to_string(r.status) + " " + r.body;
      Message get = make_message(Method::get, "/config_sqlite/storage/user");
      get.headers = {{"name", "u0"}};
      report += "read " + std::to_string(stub.request(std::move(get)).status) + "\n";
      break;
    }
    (void)::write(fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  drain(fds[0], out, Clock::time_point::max());
  ::close(fds[0]);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << out;
  std::size_t at = out.find("status ");
  std::printf("[ full disk ] %s", at == std::string::npos ? "no refusal\n" : out.substr(at).c_str());
  EXPECT_NE(out.find("status 503 database unavailable"), std::string::npos) << out;
  EXPECT_NE(out.find("read 200"), std::string::npos) << out;
  std::size_t acked = 0;
  Db db(db_path);
  ASSERT_EQ(db.column("PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  for (std::size_t pos = 0, nl; (nl = out.find('\n', pos)) != std::string::npos && out[pos] == 'u'; pos = nl + 1) {
    ++acked;
    EXPECT_EQ(db.scalar("SELECT count(*) FROM users WHERE username = '" + out.substr(pos, nl - pos) + "'"), "1");
  }
  EXPECT_GT(acked, 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace portal::config_sqlite::test

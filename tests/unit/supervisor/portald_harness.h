// Runs the built portald (with the fake router and worker) and reads what the fakes logged.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

inline std::string build_root() {
  const char* r = std::getenv("PORTAL_BUILD_ROOT");
  return r ? r : "";
}

inline std::string portald_path() { return build_root() + "/supervisor/portald"; }
inline std::string fake_path(const char* name) { return build_root() + "/tests/unit/supervisor/" + name; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls `pred` every 5 ms until it holds or `timeout` passes.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

struct LogLine {
  unsigned long long us = 0;
  std::string text;

  bool has(const std::string& s) const { return text.find(s) != std::string::npos; }
  // The value of "key=..." (up to the next space), or "".
  std::string field(const std::string& key) const {
    auto p = text.find(" " + key + "=");
    if (p == std::string::npos) return "";
    p += key.size() + 2;
    return text.substr(p, text.find(' ', p) - p);
  }
};

class FakeLog {
 public:
  explicit FakeLog(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  std::vector<LogLine> lines() const {
    std::vector<LogLine> out;
    std::istringstream in(read_text(path_));
    for (std::string l; std::getline(in, l);) {
      auto sp = l.find(' ');
      out.push_back({std::stoull(l.substr(0, sp)), l.substr(sp + 1)});
    }
    return out;
  }
  // Lines containing every one of `parts`.
  std::vector<LogLine> matching(std::initializer_list<std::string> parts) const {
    std::vector<LogLine> out;
    for (auto& l : lines()) {
      bool all = true;
      for (const auto& p : parts) all = all && l.has(p);
      if (all) out.push_back(l);
    }
    return out;
  }
  std::size_t count(std::initializer_list<std::string> parts) const { return matching(parts).size(); }
  bool wait_count(std::initializer_list<std::string> parts, std::size_t n,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return wait_until([&] { return count(parts) >= n; }, timeout);
  }

 private:
  std::string path_;
};

class Portald {
 public:
  Portald(const TempDir& dir, const std::string& config, std::vector<std::string> args = {},
          std::vector<std::pair<std::string, std::string>> env = {})
      : stderr_path_(dir / "portald.stderr") {
    std::vector<std::string> argv_s{portald_path(), "-c", config};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setenv("PORTAL_ROUTER_BIN", fake_path("fake_router").c_str(), 1);
      ::setenv("PORTAL_WORKER_BIN", fake_path("fake_worker").c_str(), 1);
      ::setenv("FAKE_LOG", (dir / "fake.log").c_str(), 1);
      ::unsetenv("NOTIFY_SOCKET");
      for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      int fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Portald() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Portald(const Portald&) = delete;
  Portald& operator=(const Portald&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  std::string output() const { return read_text(stderr_path_); }

  // Exit code (or 128 + signal), once it exited within `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (exit_code_) return exit_code_;
    wait_until(
        [&] {
          int st = 0;
          if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
          exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          return true;
        },
        timeout);
    return exit_code_;
  }

 private:
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// True once no process with that pid exists (reaped, not a zombie).
inline bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

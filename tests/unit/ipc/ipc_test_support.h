// Helpers shared by the modsdk/ipc tests: forked peer processes with a deadline, and
// self-checking payloads (the receiver recomputes every byte from the sequence number).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>

#include "ipc/channel.h"
#include "ipc/endpoint.h"

namespace portal::ipc::test {

// ---------------------------------------------------------------------------------------
// Payloads

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Word k of the payload of `seq` (word 0 is the sequence number itself).
inline std::uint64_t payload_word(std::uint64_t seq, std::uint64_t k) {
  return k == 0 ? seq : mix(seq * 0x100000001b3ull + k);
}

inline void fill_payload(std::byte* out, std::size_t n, std::uint64_t seq) {
  std::size_t k = 0;
  for (; (k + 1) * 8 <= n; ++k) {
    std::uint64_t w = payload_word(seq, k);
    std::memcpy(out + k * 8, &w, 8);
  }
  if (k * 8 < n) {
    std::uint64_t w = payload_word(seq, k);
    std::memcpy(out + k * 8, &w, n - k * 8);
  }
}

inline std::string make_payload(std::uint64_t seq, std::size_t n) {
  std::string s(n, '\0');
  fill_payload(reinterpret_cast<std::byte*>(s.data()), n, seq);
  return s;
}

// Empty string when `got` is exactly the payload of `seq` with `n` bytes.
inline std::string check_payload(std::span<const std::byte> got, std::uint64_t seq, std::size_t n) {
  if (got.size() != n)
    return "seq " + std::to_string(seq) + ": size " + std::to_string(got.size()) + ", expected " +
           std::to_string(n);
  std::size_t k = 0;
  for (; (k + 1) * 8 <= n; ++k) {
    std::uint64_t w = payload_word(seq, k), g;
    std::memcpy(&g, got.data() + k * 8, 8);
    if (g != w) return "seq " + std::to_string(seq) + ": bad word " + std::to_string(k);
  }
  if (k * 8 < n) {
    std::uint64_t w = payload_word(seq, k), g = 0;
    std::memcpy(&g, got.data() + k * 8, n - k * 8);
    std::uint64_t mask = (std::uint64_t{1} << ((n - k * 8) * 8)) - 1;
    if (g != (w & mask)) return "seq " + std::to_string(seq) + ": bad tail bytes";
  }
  return {};
}

// Deterministic payload size of record `seq`: both sides of a test compute it, so a lost,
// duplicated or reordered record shows up as a size or content mismatch.
inline std::size_t skewed_size(std::uint64_t seq, std::size_t max) {
  std::uint64_t r = mix(seq ^ 0x5eedull);
  std::size_t limit = (r & 0xff) < 218 ? std::min<std::size_t>(64, max)     // ~85 %
                      : (r & 0xff) < 249 ? std::min<std::size_t>(1024, max)  // ~12 %
                                         : max;                              // ~3 %
  return (r >> 8) % (limit + 1);
}

// ---------------------------------------------------------------------------------------
// Processes

// A forked process running `fn`; its exit code is fn's return value. The destructor kills
// and reaps a child that is still running, so a failing test never leaves one behind.
class Child {
 public:
  template <class F>
  static Child spawn(F&& fn, unsigned watchdog_s = 120) {
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::alarm(watchdog_s);  // a hung child dies on its own
      int rc = 100;
      try {
        rc = fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: exception: %s\n", e.what());
      }
      std::fflush(nullptr);
      ::_exit(rc);
    }
    return Child(pid);
  }

  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void kill(int sig) const { ::kill(pid_, sig); }

  // Waits for the child to end; false on timeout. `status` is waitpid's status.
  bool wait(std::chrono::milliseconds timeout, int& status) {
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        if (pfd >= 0) ::close(pfd);
        pid_ = -1;
        return true;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        if (pfd >= 0) ::close(pfd);
        return false;
      }
      if (pfd >= 0) {
        pollfd p{pfd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // no pidfd: poll waitpid
      }
    }
  }

  // "exit 0", "exit 3", "signal 9", or "timeout".
  std::string finish(std::chrono::milliseconds timeout) {
    int st = 0;
    if (!wait(timeout, st)) return "timeout";
    if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
    if (WIFSIGNALED(st)) return "signal " + std::to_string(WTERMSIG(st));
    return "status " + std::to_string(st);
  }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------------------
// Channels

inline UniqueFd dup_fd(const UniqueFd& fd) { return UniqueFd(::dup(fd.get())); }

// One side of a channel as a RingEndpoint, built from the supervisor's fds (duplicated, so
// `fds` keeps its own).
inline std::unique_ptr<RingEndpoint> open_endpoint(const ChannelFds& fds, Side side, std::uint64_t generation,
                                                   std::size_t max_message = kMaxMessageBytes) {
  auto ch = Channel::map(fds.memfd.get(), side, generation);
  if (!ch) return nullptr;
  bool router = side == Side::router;
  return std::make_unique<RingEndpoint>(std::move(*ch), dup_fd(router ? fds.router_bell : fds.worker_bell),
                                        dup_fd(router ? fds.worker_bell : fds.router_bell), max_message);
}

// Child-side failure report: prints and returns the exit code to use.
inline int child_fail(const char* who, const std::string& why, int code = 1) {
  std::fprintf(stderr, "%s: %s\n", who, why.c_str());
  return code;
}

}  // namespace portal::ipc::test

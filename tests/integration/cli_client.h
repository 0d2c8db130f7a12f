// A client of the cli module's UNIX socket for integration tests: types lines and waits for
// the text it expects, with a deadline.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace portal::itest {

// A line-typing client that reads until the text it waits for arrived, with a
// deadline.
class CliClient {
 public:
  explicit CliClient(const std::string &path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
  }
  ~CliClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool type(const std::string &line) {
    return ::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size());
  }
  // Waits for `text` after what earlier waits consumed; consumes through it.
  bool expect(const std::string &text, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (std::size_t at = seen_.find(text, pos_); at != std::string::npos) {
        pos_ = at + text.size();
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      seen_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // Types `command` and waits for the prompt after its output; returns that
  // output.
  std::string run(const std::string &command, const std::string &prompt = "portal:/> ") {
    if (!type(command + "\n") || !expect(command + "\n")) return "<no echo>";
    std::size_t from = pos_;
    if (!expect(prompt)) return "<no prompt> " + seen_.substr(from);
    return seen_.substr(from, pos_ - from - prompt.size());
  }
  const std::string &all() const { return seen_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string seen_;
  std::size_t pos_ = 0;
};

}  // namespace portal::itest

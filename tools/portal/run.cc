#include "run.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "locate.h"

namespace portal::instance {

namespace {

[[noreturn]] void exec_portald(const RunOptions& o) {
  std::string portald = tools::find_program("portald");
  std::vector<const char*> argv{portald.c_str(), "-c", o.config.c_str()};
  if (o.debug) argv.push_back("-d");
  argv.push_back(nullptr);
  ::execv(portald.c_str(), const_cast<char* const*>(argv.data()));
  std::fprintf(stderr, "portal: cannot run %s: %s\n", portald.c_str(), std::strerror(errno));
  ::_exit(127);
}

volatile sig_atomic_t g_winch = 0;
void on_winch(int) { g_winch = 1; }

std::string winsize_line() {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return {};
  return "__winsize " + std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col) + "\n";
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

int run_portald(const RunOptions& o) {
  if (o.foreground) exec_portald(o);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "portal: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (pid == 0) {
    ::setsid();
    if (::chdir("/") != 0) ::_exit(126);
    int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = o.log_file.empty() ? ::open("/dev/null", O_WRONLY | O_CLOEXEC)
                                 : ::open(o.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    exec_portald(o);
  }
  // A portald that fails at once (bad config) is reported here, not silently lost.
  for (int i = 0; i < 50; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      std::fprintf(stderr, "portal: portald exited at once (status %d)%s%s\n",
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                   o.log_file.empty() ? "" : "; see ", o.log_file.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!o.pid_file.empty()) {
    std::string tmp = o.pid_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f || std::fprintf(f, "%d\n", pid) < 0 || std::fclose(f) != 0 || std::rename(tmp.c_str(), o.pid_file.c_str()) != 0)
      std::fprintf(stderr, "portal: cannot write %s: %s\n", o.pid_file.c_str(), std::strerror(errno));
  }
  std::printf("Portal started (pid %d)\n", pid);
  return 0;
}

int remote_shell(const std::string& socket_path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "portal: socket path too long: %s\n", socket_path.c_str());
    return 1;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "portal: cannot connect to %s: %s (is the instance running, with the cli module?)\n",
                 socket_path.c_str(), std::strerror(errno));
    return 1;
  }
  const bool tty = ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    ::tcgetattr(STDIN_FILENO, &saved);
    termios raw = saved;
    ::cfmakeraw(&raw);
    raw.c_oflag |= OPOST;  // keep "\n" -> "\r\n" for the server's plain newlines
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    struct sigaction sa{};
    sa.sa_handler = on_winch;
    ::sigaction(SIGWINCH, &sa, nullptr);
    std::string w = winsize_line();
    if (!w.empty()) write_all(fd, w.data(), w.size());
  }
  char buf[4096];
  bool stdin_open = true;
  for (;;) {
    if (g_winch) {
      g_winch = 0;
      std::string w = winsize_line();
      if (!w.empty() && !write_all(fd, w.data(), w.size())) break;
    }
    pollfd p[2] = {{fd, POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      if (!write_all(STDOUT_FILENO, buf, static_cast<std::size_t>(n))) break;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;  // a script's input ended: wait for the server to finish
        ::shutdown(fd, SHUT_WR);
        continue;
      }
      if (!write_all(fd, buf, static_cast<std::size_t>(n))) break;
    }
  }
  if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  ::close(fd);
  return 0;
}

}  // namespace portal::instance

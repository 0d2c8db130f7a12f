// A tiny ctl-protocol server for the tools tests: a listening UNIX socket in a temporary
// folder and one thread that serves connections one after the other with a test-given
// function, using blocking I/O and libprotobuf.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "portal.pb.h"

namespace portal::tools::test {

class TinyServer {
 public:
  using Serve = std::function<void(int fd)>;  // one connection; the server closes it afterwards

  explicit TinyServer(Serve serve) : serve_(std::move(serve)) {
    char tmpl[] = "/tmp/portal-tools-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/ctl.sock";
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ok_ = ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && ::listen(listener_, 16) == 0;
    if (ok_) thread_ = std::thread([this] { run(); });
  }
  ~TinyServer() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
    std::filesystem::remove_all(dir_);
  }
  TinyServer(const TinyServer&) = delete;
  TinyServer& operator=(const TinyServer&) = delete;

  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

  // One request frame, or nullopt at end of stream / on garbage.
  static std::optional<pb::Message> read_request(int fd) {
    std::string header = read_exactly(fd, 4);
    if (header.size() != 4) return std::nullopt;
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(header[i])) << (8 * i);
    std::string payload = read_exactly(fd, n);
    pb::Envelope env;
    if (payload.size() != n || !env.ParseFromString(payload) || !env.has_request()) return std::nullopt;
    return env.request();
  }
  static bool write_raw(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t w = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (w <= 0) return false;
      off += static_cast<std::size_t>(w);
    }
    return true;
  }
  static bool write_response(int fd, const pb::Response& r) {
    pb::Envelope env;
    *env.mutable_response() = r;
    return write_raw(fd, frame_of(env.SerializeAsString()));
  }
  static pb::Response response(std::uint64_t id, std::uint32_t status, std::string body) {
    pb::Response r;
    r.set_id(id);
    r.set_status(status);
    r.set_body(std::move(body));
    return r;
  }
  static std::string frame_of(const std::string& payload) {
    std::string f(4, '\0');
    for (int i = 0; i < 4; ++i) f[i] = static_cast<char>((payload.size() >> (8 * i)) & 0xff);
    return f + payload;
  }

 private:
  static std::string read_exactly(int fd, std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
  void run() {
    while (!stop_) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      serve_(fd);
      ::close(fd);
    }
  }

  Serve serve_;
  std::string dir_, path_;
  int listener_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace portal::tools::test

// A raw, non-blocking client of the ctl socket for the module tests. The stub router's event
// loop only runs when the test pumps it, so every wait here pumps instead of blocking.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "portal.pb.h"

namespace portal::ctl::test {

// Runs the module's event loop a little; returns false once the overall deadline passed.
using Pump = std::function<bool()>;

inline std::string frame_of(const std::string& payload) {
  std::string f(4, '\0');
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) f[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return f + payload;
}

inline std::string request_frame(const pb::Message& m) {
  pb::Envelope env;
  *env.mutable_request() = m;
  return frame_of(env.SerializeAsString());
}

inline pb::Message make_request(std::uint64_t id, std::string path, pb::Method method = pb::GET,
                                std::string body = {}) {
  pb::Message m;
  m.set_id(id);
  m.set_path(std::move(path));
  m.set_method(method);
  m.set_body(std::move(body));
  return m;
}

class TestClient {
 public:
  TestClient(const std::string& path, Pump pump) : pump_(std::move(pump)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~TestClient() { ::close(fd_); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  // Writes everything, pumping the module while the socket is full.
  bool send_raw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        if (!pump_()) return false;
      } else {
        return false;
      }
    }
    return true;
  }
  bool send(const pb::Message& m) { return send_raw(request_frame(m)); }

  // The next response, or nullopt when the connection closed or time ran out.
  std::optional<pb::Response> read_response() {
    for (;;) {
      if (std::optional<pb::Response> r = take_frame()) return r;
      if (eof_ || !fill()) return std::nullopt;
    }
  }

  // True once the server closed the connection (pumping until then); unread responses are
  // discarded.
  bool closed_by_server() {
    while (!eof_)
      if (!fill()) return eof_;
    return true;
  }

  std::size_t bytes_received() const { return received_; }

 private:
  std::optional<pb::Response> take_frame() {
    if (buf_.size() < 4) return std::nullopt;
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(buf_[i])) << (8 * i);
    if (buf_.size() - 4 < n) return std::nullopt;
    pb::Envelope env;
    bool ok = env.ParseFromArray(buf_.data() + 4, static_cast<int>(n));
    buf_.erase(0, 4 + n);
    if (!ok || !env.has_response()) return pb::Response();  // the test sees a wrong id
    return env.response();
  }
  // Reads what is there, pumping while nothing is; false when time ran out.
  bool fill() {
    char chunk[64 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buf_.append(chunk, static_cast<std::size_t>(n));
        received_ += static_cast<std::size_t>(n);
        return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        eof_ = true;
        return true;
      }
      if (!pump_()) return false;
    }
  }

  Pump pump_;
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buf_;
  std::size_t received_ = 0;
};

}  // namespace portal::ctl::test

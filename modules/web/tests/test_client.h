// A blocking HTTP/1.1 client (plain or TLS) for the module tests. It runs on a thread of its
// own while the test's thread pumps the stub router's event loop (see WebTest::run). Every
// read gives up after kClientTimeout, so a broken server fails a test instead of hanging it.
// A socket call interrupted (EINTR) is tried again: with a timeout set on the socket the
// kernel does not restart it, and a test process is interrupted so whenever a child it
// started is stopped (the federation tests stop whole instances).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace portal::web::test {

inline constexpr int kClientTimeoutSeconds = 10;

struct Reply {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{kClientTimeoutSeconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (!connected_ && errno == EINTR) {  // the connection goes on: wait for its outcome
      pollfd p{fd_, POLLOUT, 0};
      int rc;
      do rc = ::poll(&p, 1, kClientTimeoutSeconds * 1000);
      while (rc < 0 && errno == EINTR);
      int err = 0;
      socklen_t len = sizeof err;
      connected_ = rc == 1 && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  virtual ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const long n = write_some(data.data(), data.size());
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One response; the body by Content-Length, else up to the end of the connection.
  std::optional<Reply> read_response(bool head = false) {
    std::size_t end;
    while ((end = in_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    Reply r;
    std::string_view head_text(in_.data(), end);
    std::size_t eol = head_text.find("\r\n");
    std::string_view status_line = head_text.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 9) != "HTTP/1.1 ") return std::nullopt;
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    r.reason = std::string(status_line.substr(status_line.size() > 13 ? 13 : 12));
    while (eol != std::string_view::npos) {
      head_text.remove_prefix(eol + 2);
      eol = head_text.find("\r\n");
      std::string_view line = head_text.substr(0, eol);
      std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name(line.substr(0, colon));
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers[name] = std::string(value);
    }
    in_.erase(0, end + 4);
    if (head || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (r.headers.count("content-length")) {
      const std::size_t len = std::stoul(r.headers["content-length"]);
      while (in_.size() < len)
        if (!fill()) return std::nullopt;
      r.body = in_.substr(0, len);
      in_.erase(0, len);
    } else {
      while (fill()) {
      }
      r.body = std::move(in_);
      in_.clear();
    }
    return r;
  }

  // Reads until `needle` has arrived; returns everything up to and including it.
  std::optional<std::string> read_until(std::string_view needle) {
    std::size_t at;
    while ((at = in_.find(needle)) == std::string::npos)
      if (!fill()) return std::nullopt;
    std::string out = in_.substr(0, at + needle.size());
    in_.erase(0, at + needle.size());
    return out;
  }

  // True when the server closes the connection (EOF or reset) before the read times out.
  // It reads beneath TLS: what arrives is dropped, so it need not be decrypted.
  bool closed_by_peer() {
    char buf[4096];
    for (;;) {
      const long n = Client::read_some(buf, sizeof buf);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;  // reset: closed too
    }
  }

  void close() {
    ::shutdown(fd_, SHUT_RDWR);
  }

 protected:
  // Both return what the call did, never an interruption (see the top of this file).
  virtual long write_some(const char* p, std::size_t n) {
    long r;
    do r = ::send(fd_, p, n, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r;
  }
  virtual long read_some(char* p, std::size_t n) {
    long r;
    do r = ::recv(fd_, p, n, 0);
    while (r < 0 && errno == EINTR);
    return r;
  }

  bool fill() {
    char buf[64 * 1024];
    const long n = read_some(buf, sizeof buf);
    if (n <= 0) return false;
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

// The same over TLS; `max_version` limits the client (TLS1_1_VERSION: must be refused).
class TlsClient : public Client {
 public:
  TlsClient(std::uint16_t port, int max_version = 0) : Client(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx_, 0);  // lets the client offer TLS 1.0/1.1 at all
    SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
    if (max_version) SSL_CTX_set_max_proto_version(ctx_, max_version);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (connected_) {
      int r;
      do r = SSL_connect(ssl_);
      while (r <= 0 && interrupted(r));
      handshake_ok_ = r == 1;
    }
  }
  ~TlsClient() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  bool handshake_ok() const { return handshake_ok_; }
  std::string protocol() const { return SSL_get_version(ssl_); }

 protected:
  // OpenSSL reports an interrupted socket call as "want read/write" on a blocking socket;
  // a read timeout shows as EAGAIN beneath it and ends the call.
  bool interrupted(int r) const {
    const int e = SSL_get_error(ssl_, r);
    return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && errno == EINTR;
  }
  long write_some(const char* p, std::size_t n) override {
    int r;
    do r = SSL_write(ssl_, p, static_cast<int>(n));
    while (r <= 0 && interrupted(r));
    return r;
  }
  long read_some(char* p, std::size_t n) override {
    int r;
    do r = SSL_read(ssl_, p, static_cast<int>(std::min<std::size_t>(n, 1 << 30)));
    while (r <= 0 && interrupted(r));
    return r > 0 ? r : (SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
};

}  // namespace portal::web::test

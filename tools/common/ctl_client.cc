#include "ctl_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <thread>

#include "portal.pb.h"

namespace portal::tools {

namespace {

constexpr std::size_t kHeaderBytes = 4;
constexpr std::size_t kMinRead = 64 * 1024;
constexpr std::size_t kMaxRead = 4u << 20;
constexpr std::chrono::milliseconds kConnectRetry{10};

std::string errno_text(int e) { return std::system_category().message(e); }

std::uint32_t read_le32(const char* p) {
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return n;
}

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, std::numeric_limits<int>::max()));
}

std::uint32_t clamp_ms(std::chrono::milliseconds ms) {
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(ms.count(), 0, std::numeric_limits<std::uint32_t>::max()));
}

void fill_request(std::uint64_t id, CtlRequest&& req, pb::Message& m) {
  m.set_id(id);
  m.set_path(std::move(req.path));
  m.set_method(static_cast<pb::Method>(req.method));
  for (Header& h : req.headers) {
    pb::Header* ph = m.add_headers();
    ph->set_key(std::move(h.key));
    ph->set_value(std::move(h.value));
  }
  m.set_body(std::move(req.body));
  m.set_timeout_ms(clamp_ms(req.deadline));
  if (req.credentials.empty()) return;
  pb::Credentials* c = m.mutable_ctx()->mutable_credentials();
  c->set_api_key(std::move(req.credentials.api_key));
  c->set_token(std::move(req.credentials.token));
  c->set_username(std::move(req.credentials.username));
  c->set_password(std::move(req.credentials.password));
}

Result<std::string> encode_request(std::uint64_t id, CtlRequest&& req) {
  pb::Envelope env;
  fill_request(id, std::move(req), *env.mutable_request());
  const std::size_t n = env.ByteSizeLong();
  if (n > std::numeric_limits<std::uint32_t>::max())
    return make_error(status::payload_too_large, "request too large for a frame");
  std::string frame(kHeaderBytes + n, '\0');
  for (std::size_t i = 0; i < kHeaderBytes; ++i) frame[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  env.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(frame.data() + kHeaderBytes));
  return frame;
}

Response from_pb(pb::Response& r) {
  Response out;
  out.status = static_cast<int>(r.status());
  for (pb::Header& h : *r.mutable_headers())
    out.headers.push_back({std::move(*h.mutable_key()), std::move(*h.mutable_value())});
  out.body = std::move(*r.mutable_body());
  return out;
}

// A non-blocking connect to a UNIX socket fails with EAGAIN while the listener's backlog is
// full: retry until the timeout.
Result<int> connect_socket(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return make_error(status::bad_request, "invalid socket path '" + path + "'");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(status::unavailable, "cannot create a socket: " + errno_text(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    const int e = errno;
    ::close(fd);
    if (e != EAGAIN || std::chrono::steady_clock::now() >= deadline)
      return make_error(status::unavailable, "cannot connect to " + path + ": " + errno_text(e));
    std::this_thread::sleep_for(kConnectRetry);
  }
}

}  // namespace

Result<std::unique_ptr<CtlClient>> CtlClient::connect(const std::string& socket_path, CtlClientOptions options) {
  Result<int> fd = connect_socket(socket_path, options.connect_timeout);
  if (!fd) return fd.error();
  return std::unique_ptr<CtlClient>(new CtlClient(*fd, socket_path, options));
}

CtlClient::CtlClient(int fd, std::string path, CtlClientOptions options)
    : fd_(fd), path_(std::move(path)), opts_(options) {}

CtlClient::~CtlClient() { ::close(fd_); }

void CtlClient::shutdown() {
  std::lock_guard lock(mu_);
  fail_locked(make_error(status::unavailable, "connection to " + path_ + " closed"));
}

bool CtlClient::connected() const {
  std::lock_guard lock(mu_);
  return !broken_;
}

std::size_t CtlClient::in_flight() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void CtlClient::fail_locked(Error error) {
  if (broken_) return;
  broken_ = std::move(error);
  ::shutdown(fd_, SHUT_RDWR);  // wakes a reader blocked in poll()
  cv_.notify_all();
}

// --- requests ---------------------------------------------------------------------------

Result<Response> CtlClient::request(CtlRequest req, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (req.deadline.count() == 0) req.deadline = timeout;
  Result<std::uint64_t> id = send(std::move(req), timeout);
  if (!id) return id.error();
  return wait(*id, std::chrono::ceil<std::chrono::milliseconds>(std::max(deadline - Clock::now(), Clock::duration::zero())));
}

Result<Response> CtlClient::request(Method method, std::string path, Headers headers, std::string body,
                                    Credentials credentials, std::chrono::milliseconds timeout) {
  CtlRequest req{.method = method, .path = std::move(path), .headers = std::move(headers),
                 .body = std::move(body), .credentials = std::move(credentials)};
  return request(std::move(req), timeout);
}

Result<std::uint64_t> CtlClient::send(CtlRequest req, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (broken_) return *broken_;
    id = next_id_++;
    pending_.emplace(id, std::nullopt);  // before writing: the answer may come at once
  }
  Result<std::string> frame = encode_request(id, std::move(req));
  Status st = frame ? write_frame(*frame, deadline) : Status(frame.error());
  if (st) return id;
  std::lock_guard lock(mu_);
  pending_.erase(id);
  // A frame written in part leaves the stream unusable.
  if (frame) fail_locked(st.error());
  return st.error();
}

Result<Response> CtlClient::wait(std::uint64_t id, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return make_error(status::bad_request, "no request " + std::to_string(id) + " in flight");
    if (it->second) {
      Response r = std::move(*it->second);
      pending_.erase(it);
      return r;
    }
    if (broken_ || Clock::now() >= deadline) {
      pending_.erase(it);
      if (broken_) return *broken_;
      return make_error(status::gateway_timeout, "no response from " + path_ + " within " +
                                                     std::to_string(timeout.count()) + " ms");
    }
    if (reader_busy_) {
      cv_.wait_until(lock, deadline);
      continue;
    }
    reader_busy_ = true;
    lock.unlock();
    Status st = read_some(deadline);
    lock.lock();
    reader_busy_ = false;
    if (!st) fail_locked(st.error());
    cv_.notify_all();  // another waiter may take the reader's place
  }
}

void CtlClient::abandon(std::uint64_t id) {
  std::lock_guard lock(mu_);
  pending_.erase(id);
}

// --- socket I/O -------------------------------------------------------------------------

Status CtlClient::write_frame(const std::string& frame, Clock::time_point deadline) {
  std::lock_guard writing(write_mu_);
  std::size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN)
      return make_error(status::unavailable, "connection to " + path_ + " lost: " + errno_text(errno));
    if (Status st = wait_writable(deadline); !st) return st;
  }
  return {};
}

// Waits for room on the socket. Meanwhile this thread reads responses if nobody else does,
// so that a server blocked on writing to us always gets unblocked.
Status CtlClient::wait_writable(Clock::time_point deadline) {
  if (Clock::now() >= deadline)
    return make_error(status::gateway_timeout, "timed out writing a request to " + path_);
  const bool reader = try_take_reader();
  pollfd p{fd_, static_cast<short>(POLLOUT | (reader ? POLLIN : 0)), 0};
  int rc = ::poll(&p, 1, remaining_ms(deadline));
  Status st;
  if (rc < 0 && errno != EINTR)
    st = make_error(status::unavailable, "poll failed: " + errno_text(errno));
  else if (rc > 0 && reader && (p.revents & (POLLIN | POLLHUP | POLLERR)))
    st = recv_now();
  if (reader) release_reader(st);
  return st;
}

bool CtlClient::try_take_reader() {
  std::lock_guard lock(mu_);
  if (reader_busy_) return false;
  reader_busy_ = true;
  return true;
}

void CtlClient::release_reader(const Status& st) {
  std::lock_guard lock(mu_);
  reader_busy_ = false;
  if (!st) fail_locked(st.error());
  cv_.notify_all();
}

// Reader role: waits for data until `deadline` and takes what is there.
Status CtlClient::read_some(Clock::time_point deadline) {
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, remaining_ms(deadline));
  if (rc < 0 && errno != EINTR) return make_error(status::unavailable, "poll failed: " + errno_text(errno));
  if (rc <= 0) return {};
  return recv_now();
}

Status CtlClient::recv_now() {
  std::size_t want = kMinRead;
  const std::size_t avail = rbuf_.size() - rpos_;
  if (avail >= kHeaderBytes) {  // a frame is under way: read the rest in large steps
    const std::size_t total = kHeaderBytes + read_le32(rbuf_.data() + rpos_);
    if (total > avail) want = std::clamp(total - avail, kMinRead, kMaxRead);
  }
  const std::size_t old = rbuf_.size();
  rbuf_.resize(old + want);
  ssize_t n = ::recv(fd_, rbuf_.data() + old, want, MSG_DONTWAIT);
  const int e = errno;
  rbuf_.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
  if (n == 0) return make_error(status::unavailable, "connection closed by " + path_);
  if (n < 0 && (e == EAGAIN || e == EINTR)) return {};
  if (n < 0) return make_error(status::unavailable, "connection to " + path_ + " lost: " + errno_text(e));
  return parse_frames();
}

Status CtlClient::parse_frames() {
  while (rbuf_.size() - rpos_ >= kHeaderBytes) {
    const std::uint32_t len = read_le32(rbuf_.data() + rpos_);
    if (len > opts_.max_frame)
      return make_error(status::internal_error, "frame of " + std::to_string(len) + " bytes from " + path_ +
                                                    " exceeds max_frame");
    if (rbuf_.size() - rpos_ - kHeaderBytes < len) break;
    pb::Envelope env;
    if (!env.ParseFromArray(rbuf_.data() + rpos_ + kHeaderBytes, static_cast<int>(len)) || !env.has_response())
      return make_error(status::internal_error, "malformed frame from " + path_);
    rpos_ += kHeaderBytes + len;
    Response r = from_pb(*env.mutable_response());
    std::lock_guard lock(mu_);
    auto it = pending_.find(env.response().id());
    if (it != pending_.end() && !it->second) it->second = std::move(r);
    cv_.notify_all();
  }
  if (rpos_ == rbuf_.size()) {
    if (rbuf_.capacity() > kMaxRead) std::string().swap(rbuf_);
    rbuf_.clear();
    rpos_ = 0;
  } else if (rpos_ > rbuf_.size() / 2) {
    rbuf_.erase(0, rpos_);
    rpos_ = 0;
  }
  return {};
}

}  // namespace portal::tools

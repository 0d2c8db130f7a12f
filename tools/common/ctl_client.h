// A client of the ctl socket (modules/ctl/README.md): frames of a u32 little-endian length
// and a portal.pb.Envelope, requests and responses matched by id. Used by portalctl,
// portal-bench and the integration tests.
//
//   auto client = CtlClient::connect("/run/portal/ctl.sock");
//   if (!client) ...client.error().message...
//   Result<Response> r = (*client)->request(Method::get, "/core/status");
//
// Pipelining: send() returns an id at once, wait(id) returns its response; any number of
// requests may be in flight, from any number of threads. Every call has a timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "portal/message.h"
#include "portal/result.h"

namespace portal::tools {

inline constexpr std::chrono::milliseconds kDefaultCtlTimeout{30000};

struct CtlRequest {
  Method method = Method::get;
  std::string path;
  Headers headers;
  std::string body;
  Credentials credentials;             // the router resolves them into an identity
  std::chrono::milliseconds deadline{0};  // sent as timeout_ms; 0: the router's default
};

struct CtlClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::uint32_t max_frame = 80u << 20;  // the largest response frame accepted
};

// Errors are Portal status codes: 503 cannot connect / connection lost (the message names
// the socket and the reason), 504 no response in time, 500 a malformed frame from the
// server, 400 a request that cannot be sent (too large) or an unknown id.
class CtlClient {
 public:
  static Result<std::unique_ptr<CtlClient>> connect(const std::string& socket_path,
                                                    CtlClientOptions options = {});
  // No call may be in progress on another thread.
  ~CtlClient();
  CtlClient(const CtlClient&) = delete;
  CtlClient& operator=(const CtlClient&) = delete;

  // One request, waiting at most `timeout`; when `req.deadline` is 0 the timeout is also
  // sent to the router as the request's deadline.
  Result<Response> request(CtlRequest req, std::chrono::milliseconds timeout = kDefaultCtlTimeout);
  Result<Response> request(Method method, std::string path, Headers headers = {}, std::string body = {},
                           Credentials credentials = {},
                           std::chrono::milliseconds timeout = kDefaultCtlTimeout);

  // Writes the request (waiting at most `timeout` for room on the socket) and returns its
  // id. Call wait() or abandon() for every id.
  Result<std::uint64_t> send(CtlRequest req, std::chrono::milliseconds timeout = kDefaultCtlTimeout);
  // The response to `id`, waiting at most `timeout`; after a timeout the id is forgotten.
  Result<Response> wait(std::uint64_t id, std::chrono::milliseconds timeout = kDefaultCtlTimeout);
  // Forgets a sent request; its response is dropped when it comes.
  void abandon(std::uint64_t id);

  // Closes the connection: calls in progress and later calls fail with 503. Thread-safe.
  void shutdown();
  bool connected() const;
  const std::string& socket_path() const { return path_; }
  std::size_t in_flight() const;

 private:
  using Clock = std::chrono::steady_clock;

  CtlClient(int fd, std::string path, CtlClientOptions options);
  Status write_frame(const std::string& frame, Clock::time_point deadline);
  Status wait_writable(Clock::time_point deadline);
  Status read_some(Clock::time_point deadline);
  Status recv_now();
  Status parse_frames();
  bool try_take_reader();
  void release_reader(const Status& st);
  void fail_locked(Error error);

  int fd_;
  std::string path_;
  CtlClientOptions opts_;
  std::mutex write_mu_;  // one frame at a time on the socket

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::optional<Response>> pending_;  // sent, not yet waited for
  bool reader_busy_ = false;  // one thread at a time reads the socket for everyone
  std::optional<Error> broken_;

  std::string rbuf_;  // touched by the reader only
  std::size_t rpos_ = 0;
};

}  // namespace portal::tools

// Messages and responses as modules see them (COMPAT.md 1.1-1.3). Plain C++: no Protobuf
// in the public SDK; hosts convert at the boundary.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portal {

enum class Method : std::uint8_t { get = 1, set = 2, call = 3, event = 4, sub = 5, unsub = 6, meta = 7 };

// Trace label of a method (COMPAT.md 1.2): GET SET CALL EVT SUB UNSUB META.
constexpr std::string_view method_label(Method m) {
  switch (m) {
    case Method::get: return "GET";
    case Method::set: return "SET";
    case Method::call: return "CALL";
    case Method::event: return "EVT";
    case Method::sub: return "SUB";
    case Method::unsub: return "UNSUB";
    case Method::meta: return "META";
  }
  return "?";
}

namespace status {
inline constexpr int ok = 200;
inline constexpr int created = 201;
inline constexpr int accepted = 202;
inline constexpr int bad_request = 400;
inline constexpr int unauthorized = 401;
inline constexpr int forbidden = 403;
inline constexpr int not_found = 404;
inline constexpr int conflict = 409;
inline constexpr int gone = 410;
inline constexpr int payload_too_large = 413;
inline constexpr int internal_error = 500;
inline constexpr int unavailable = 503;
inline constexpr int gateway_timeout = 504;
}  // namespace status

struct Header {
  std::string key;
  std::string value;
};
using Headers = std::vector<Header>;

inline const std::string* find_header(const Headers& headers, std::string_view key) {
  for (const Header& h : headers)
    if (h.key == key) return &h.value;
  return nullptr;
}

struct Trace {
  std::uint64_t trace_id = 0;
  std::uint64_t parent_id = 0;
  std::uint64_t timestamp_us = 0;
  std::uint32_t hops = 0;
};

// The identity the router decided on; a module can read it, never set it.
struct Identity {
  std::string user;
  std::vector<std::string> labels;
  std::string asserted_by;  // the module that asserted it (see Context::asserted); empty when resolved
};

// What an interface module received from its client; the router resolves it.
struct Credentials {
  std::string api_key;
  std::string token;
  std::string username;
  std::string password;
  // Where the client connects from (address, peer node): keys the failed-login throttle.
  std::string source;
  // The UNIX user of a local client (SO_PEERCRED), set by a socket interface. The router maps
  // it to a Portal user only through that module's own `peer_users` setting.
  std::optional<std::int64_t> peer_uid;
  bool empty() const {
    return api_key.empty() && token.empty() && username.empty() && password.empty() && !peer_uid;
  }
};

struct Context {
  Identity auth;
  Trace trace;
  std::string source_node;
  std::string source_module;
  Credentials credentials;
  // An identity this module established itself (the federation module, for a request
  // from an authenticated peer). The router honours only `asserted.user`, and only for a
  // module whose config grants `assert_identity = true`; labels come from that user's
  // record. From any other module it is ignored.
  Identity asserted;
};

struct Message {
  std::uint64_t id = 0;
  std::string path;
  Method method = Method::get;
  Headers headers;
  std::string body;
  Context ctx;
  std::chrono::milliseconds timeout{0};  // 0: the router's default deadline

  const std::string* header(std::string_view key) const { return find_header(headers, key); }
  std::string header_or(std::string_view key, std::string_view fallback) const {
    const std::string* v = header(key);
    return v ? *v : std::string(fallback);
  }
  Message& add_header(std::string key, std::string value) {
    headers.push_back({std::move(key), std::move(value)});
    return *this;
  }
};

inline Message make_message(Method method, std::string path, std::string body = {}) {
  Message m;
  m.method = method;
  m.path = std::move(path);
  m.body = std::move(body);
  return m;
}

struct Response {
  int status = status::ok;
  Headers headers;
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  const std::string* header(std::string_view key) const { return find_header(headers, key); }
};

inline Response respond(int status, std::string body = {}) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace portal

// Small helpers shared by the core path handlers (core_*.cc).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "portal.pb.h"
#include "router/router.h"

namespace portal::router::core {

inline const std::string* find_header(const pb::Message& msg, std::string_view key) {
  for (const auto& h : msg.headers())
    if (h.key() == key) return &h.value();
  return nullptr;
}

inline std::string header(const pb::Message& msg, std::string_view key) {
  const std::string* v = find_header(msg, key);
  return v ? *v : std::string();
}

inline void reply(Router& router, Origin& origin, std::uint32_t status, std::string body = {}) {
  pb::Response r;
  r.set_status(status);
  r.set_body(std::move(body));
  router.answer_origin(origin, r);
}

// An origin kept for an answer that comes later (a store write, a password hash).
using Later = std::shared_ptr<Origin>;
inline Later later(Origin&& origin) { return std::make_shared<Origin>(std::move(origin)); }

inline std::string pad(std::string_view s, std::size_t width) {
  std::string out(s);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

// "a,b" -> {"a","b"}; empty items dropped.
std::vector<std::string> split_list(std::string_view text, char sep = ',');
std::string join(const std::vector<std::string>& items, std::string_view sep);

// Where a client connects from, for the failed-login throttle.
inline std::string source_of(const pb::Message& msg) {
  return msg.ctx().source_module() + ":" + msg.ctx().credentials().source();
}

// Handlers by namespace (core_auth.cc, core_admin.cc).
void handle_auth(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);
void handle_users(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);
void handle_groups(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);
void handle_config(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);
void handle_locks(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);
void handle_storage(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);
void handle_resolve(Router& r, const Caller& caller, const pb::Message& msg, Origin origin);

// Keys whose values only admins see (COMPAT.md deliberate differences).
bool is_secret_key(std::string_view key);

}  // namespace portal::router::core

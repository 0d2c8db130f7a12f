// /auth/*, /users, /users/<name>[/password], /groups, /groups/<g>[/add|/remove]
// (COMPAT.md 2, with the deliberate differences at its top).
#include <algorithm>

#include "common/log.h"
#include "router/core_util.h"
#include "router/identity/secret.h"
#include "router/store/names.h"

namespace portal::router::core {

namespace {

constexpr const char* kTopic = "auth";
constexpr std::size_t kMaxPasswordBytes = 4096;

// The user a request speaks for: a `token` header (the original's form), else the caller.
std::string acting_user(Router& r, const Caller& caller, const pb::Message& msg) {
  if (const std::string* t = find_header(msg, "token"); t && !t->empty()) return r.auth().session_user(*t).value_or("");
  return caller.user;
}

std::string tokens_of(const pb::Message& msg) {
  if (const std::string* t = find_header(msg, "token"); t && !t->empty()) return *t;
  return msg.ctx().credentials().token();
}

void store_failed(Router& r, Origin& o, const Status& s) {
  log::error(kTopic, "store write failed: " + s.error().message);
  reply(r, o, 500, "Could not store the change: " + s.error().message + "\n");
}

// Labels that only root may hand out or take away.
std::optional<std::string> root_only_change(const Caller& caller, const std::vector<std::string>& before,
                                            const std::vector<std::string>& after) {
  if (caller.user == kRootUser) return std::nullopt;
  for (const auto& l : after)
    if (is_root_only_label(l) && std::find(before.begin(), before.end(), l) == before.end()) return l;
  for (const auto& l : before)
    if (is_root_only_label(l) && std::find(after.begin(), after.end(), l) == after.end()) return l;
  return std::nullopt;
}

// Only root changes root: an admin must not be able to take root over by resetting its
// password or key.
bool may_change(const Caller& caller, const std::string& target) {
  return target != kRootUser || caller.user == kRootUser;
}

void start_session(Router& r, const std::string& user, Later o) {
  auto token = r.auth().create_session(user);
  if (!token) return reply(r, *o, 500, "Could not create a session\n");
  log::info(kTopic, "login: " + user);
  r.emit("/events/auth/login", "user=" + user + "\n");
  reply(r, *o, 200, *token + "\n");
}

void login(Router& r, const pb::Message& msg, Origin origin) {
  std::string key = header(msg, "api_key");
  std::string name = header(msg, "username");
  std::string password = header(msg, "password");
  Later o = later(std::move(origin));
  if (!key.empty()) {
    pb::Credentials cred;
    cred.set_api_key(key);
    return r.auth().resolve(cred, source_of(msg), [&r, o, source = source_of(msg)](Resolution res) {
      if (res.status != 200) {
        log::warn(kTopic, "login with an unknown API key from " + source);
        r.emit("/events/auth/login_failed", "user=\nsource=" + source + "\n");
        return reply(r, *o, 401, "Authentication failed\n");
      }
      start_session(r, res.caller.user, o);
    });
  }
  if (name.empty() || password.empty()) return reply(r, *o, 400, "Provide username+password or api_key\n");
  r.auth().check_password(name, password, source_of(msg), [&r, o](Resolution res) {
    if (res.status != 200) return reply(r, *o, static_cast<std::uint32_t>(res.status), res.body);
    start_session(r, res.caller.user, o);
  });
}

std::string whoami_text(const Caller& c) {
  return "User: " + c.user + "\nLabels: " + join(c.labels, ", ") + "\n";
}

void persist_user(Router& r, store::UserRecord user, Later o, std::uint32_t status, std::string body) {
  std::string name = user.name;
  r.auth().save_user(std::move(user), [&r, o, status, body = std::move(body), name](Status s) {
    if (!s) return store_failed(r, *o, s);
    r.events().refresh_caller(name, r.auth().caller_for(name));
    reply(r, *o, status, body);
  });
}

void key_get(Router& r, const std::string& user, Later o) {
  const store::UserRecord* u = r.auth().users().find(user);
  if (!u) return reply(r, *o, 401, "Invalid or expired token\n");
  if (!u->api_key.empty()) return reply(r, *o, 200, "User: " + user + "\nAPI Key: " + u->api_key + "\n");
  auto key = identity::new_api_key();
  if (!key) return reply(r, *o, 500, "Could not generate a key\n");
  store::UserRecord next = *u;
  next.api_key = *key;
  persist_user(r, std::move(next), o, 200, "User: " + user + "\nAPI Key: " + *key + "\n");
}

void key_rotate(Router& r, const Caller& caller, const std::string& self, const pb::Message& msg, Later o) {
  std::string target = header(msg, "user");
  if (target.empty()) target = self;
  if (self.empty()) return reply(r, *o, 401, "Invalid or expired token\n");
  if (target != self && !may_administer(caller)) return reply(r, *o, 403, "Only admins rotate another user's key\n");
  if (target != self && !may_change(caller, target)) return reply(r, *o, 403, "Only root rotates root's key\n");
  const store::UserRecord* u = r.auth().users().find(target);
  if (!u) return reply(r, *o, 404);
  auto key = identity::new_api_key();
  if (!key) return reply(r, *o, 500, "Could not generate a key\n");
  store::UserRecord next = *u;
  next.api_key = *key;
  std::string body = "New API Key: " + *key + "\n";
  r.auth().save_user(std::move(next), [&r, o, target, body](Status s) {
    if (!s) return store_failed(r, *o, s);
    log::info(kTopic, "API key of '" + target + "' rotated");
    r.emit("/events/auth/key_rotated", "user=" + target + "\n");
    reply(r, *o, 200, body);
  });
}

}  // namespace

void handle_auth(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  if (path == "/auth/login") return login(r, msg, std::move(origin));
  if (path == "/auth/logout") {
    std::string token = tokens_of(msg);
    if (token.empty()) return reply(r, origin, 400, "No token\n");
    if (!r.auth().logout(token)) return reply(r, origin, 401, "Invalid or expired token\n");
    return reply(r, origin, 200, "Logged out\n");
  }
  if (path == "/auth/whoami") {
    if (const std::string* t = find_header(msg, "token"); t && !t->empty()) {
      auto user = r.auth().session_user(*t);
      if (!user) return reply(r, origin, 401, "Invalid or expired token\n");
      return reply(r, origin, 200, whoami_text(r.auth().caller_for(*user)));
    }
    if (caller.user.empty()) return reply(r, origin, 200, "anonymous (not logged in)\n");
    return reply(r, origin, 200, whoami_text(caller));
  }
  std::string self = acting_user(r, caller, msg);
  if (path == "/auth/key") {
    if (self.empty()) return reply(r, origin, 401, "Invalid or expired token\n");
    return key_get(r, self, later(std::move(origin)));
  }
  if (path == "/auth/key/rotate") return key_rotate(r, caller, self, msg, later(std::move(origin)));
  reply(r, origin, 404);
}

// --- users -----------------------------------------------------------------------------------

namespace {

std::string users_text(Router& r) {
  std::string out = "Users:\n";
  for (const store::UserRecord* u : r.auth().users().sorted())
    out += "  " + pad(u->name, 16) + " groups: " + join(u->groups, ",") + "\n";
  return out;
}

std::string user_text(const store::UserRecord& u) {
  return "User: " + u.name + "\nGroups: " + join(u.groups, " ") + "\nAPI Key: " + (u.api_key.empty() ? "none" : "set") +
         "\n";
}

Status validate_groups(const std::vector<std::string>& groups) {
  for (const auto& g : groups)
    if (Status s = store::validate_name(g, "group name"); !s) return s;
  return {};
}

void set_user(Router& r, const Caller& caller, const std::string& name, const pb::Message& msg, Origin origin) {
  if (!may_administer(caller) || !may_change(caller, name)) return reply(r, origin, 403);
  if (Status s = store::validate_name(name, "user name"); !s) return reply(r, origin, 400, s.error().message + "\n");
  const std::string* password = find_header(msg, "password");
  const std::string* groups = find_header(msg, "groups");
  if (password && password->size() > kMaxPasswordBytes) return reply(r, origin, 400, "Password too long\n");
  const store::UserRecord* existing = r.auth().users().find(name);
  store::UserRecord next = existing ? *existing : store::UserRecord{name, {}, {}, {}};
  if (groups) {
    next.groups = split_list(*groups);
    if (Status s = validate_groups(next.groups); !s) return reply(r, origin, 400, s.error().message + "\n");
    if (auto l = root_only_change(caller, existing ? existing->groups : std::vector<std::string>{}, next.groups))
      return reply(r, origin, 403, "Only root may grant or remove '" + *l + "'\n");
  }
  if (!existing) {
    auto key = identity::new_api_key();  // every user has a key (SECURITY.md P7)
    if (!key) return reply(r, origin, 500, "Could not generate a key\n");
    next.api_key = *key;
  }
  std::uint32_t status = existing ? 200 : 201;
  std::string body = existing ? "User '" + name + "' updated\n" : std::string();
  Later o = later(std::move(origin));
  if (!password || password->empty()) {
    if (!existing) next.password_hash.clear();  // no password: API key and sessions only
    return persist_user(r, std::move(next), o, status, body);
  }
  r.auth().hash_password(*password, [&r, o, next = std::move(next), status, body](Result<std::string> h) mutable {
    if (!h) return reply(r, *o, 500, "Could not hash the password\n");
    next.password_hash = std::move(*h);
    persist_user(r, std::move(next), o, status, body);
  });
}

void delete_user(Router& r, const Caller& caller, const std::string& name, Origin origin) {
  if (!may_administer(caller)) return reply(r, origin, 403);
  if (!r.auth().users().find(name)) return reply(r, origin, 404);
  if (name == kRootUser) return reply(r, origin, 409, "The root user cannot be deleted\n");
  Later o = later(std::move(origin));
  r.auth().delete_user(name, [&r, o, name](Status s) {
    if (!s) return store_failed(r, *o, s);
    log::info(kTopic, "user '" + name + "' deleted");
    reply(r, *o, 200, "User '" + name + "' deleted\n");
  });
}

void change_password(Router& r, const Caller& caller, const std::string& name, const pb::Message& msg,
                     Origin origin) {
  bool self = !caller.user.empty() && caller.user == name;
  if (!self && (!may_administer(caller) || !may_change(caller, name))) return reply(r, origin, 403);
  const std::string* password = find_header(msg, "password");
  if (!password || password->empty()) return reply(r, origin, 400, "Need: password header\n");
  if (password->size() > kMaxPasswordBytes) return reply(r, origin, 400, "Password too long\n");
  if (!r.auth().users().find(name)) return reply(r, origin, 404);
  Later o = later(std::move(origin));
  r.auth().hash_password(*password, [&r, o, name, self](Result<std::string> h) {
    if (!h) return reply(r, *o, 500, "Could not hash the password\n");
    const store::UserRecord* u = r.auth().users().find(name);
    if (!u) return reply(r, *o, 404);
    store::UserRecord next = *u;
    next.password_hash = std::move(*h);
    r.auth().save_user(std::move(next), [&r, o, name, self](Status s) {
      if (!s) return store_failed(r, *o, s);
      if (!self) r.auth().logout_user(name);  // someone else reset it: old sessions end
      log::info(kTopic, "password of '" + name + "' changed");
      reply(r, *o, 200, "Password changed\n");
    });
  });
}

}  // namespace

void handle_users(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  if (path == "/users") return reply(r, origin, 200, users_text(r));
  std::string rest = path.substr(std::string_view("/users/").size());
  std::string name = rest.substr(0, rest.find('/'));
  std::string tail = rest.size() > name.size() ? rest.substr(name.size()) : std::string();
  if (tail == "/password") {
    if (msg.method() != pb::CALL && msg.method() != pb::SET) return reply(r, origin, 404);
    return change_password(r, caller, name, msg, std::move(origin));
  }
  if (!tail.empty() || name.empty()) return reply(r, origin, 404);
  if (msg.method() == pb::SET) return set_user(r, caller, name, msg, std::move(origin));
  if (msg.method() == pb::CALL) {
    std::string action = header(msg, "action");
    if (action == "delete") return delete_user(r, caller, name, std::move(origin));
    if (!action.empty()) return reply(r, origin, 400, "Unknown action: " + action + "\n");
  }
  const store::UserRecord* u = r.auth().users().find(name);
  if (!u) return reply(r, origin, 404);
  reply(r, origin, 200, user_text(*u));
}

// --- groups --------------------------------------------------------------------------------

namespace {

void group_member(Router& r, const Caller& caller, const std::string& group, bool add, const pb::Message& msg,
                  Origin origin) {
  if (!may_administer(caller)) return reply(r, origin, 403);
  if (Status s = store::validate_name(group, "group name"); !s) return reply(r, origin, 400, s.error().message + "\n");
  std::string user = header(msg, "user");
  if (user.empty()) return reply(r, origin, 400, "Need: user header\n");
  const store::UserRecord* u = r.auth().users().find(user);
  if (!u) return reply(r, origin, 404, "User not found: " + user + "\n");
  if (!may_change(caller, user)) return reply(r, origin, 403);
  store::UserRecord next = *u;
  auto it = std::find(next.groups.begin(), next.groups.end(), group);
  if (add && it == next.groups.end()) next.groups.push_back(group);
  if (!add && it != next.groups.end()) next.groups.erase(it);
  if (auto l = root_only_change(caller, u->groups, next.groups))
    return reply(r, origin, 403, "Only root may grant or remove '" + *l + "'\n");
  std::string body = add ? "Added '" + user + "' to group '" + group + "'\n"
                         : "Removed '" + user + "' from group '" + group + "'\n";
  persist_user(r, std::move(next), later(std::move(origin)), 200, body);
}

void set_group(Router& r, const Caller& caller, const std::string& group, const pb::Message& msg, Origin origin) {
  if (!may_administer(caller)) return reply(r, origin, 403);
  if (Status s = store::validate_name(group, "group name"); !s) return reply(r, origin, 400, s.error().message + "\n");
  const store::GroupRecord* old = r.auth().users().group(group);
  store::GroupRecord next{group, header(msg, "description"), old ? old->created_by : caller.user};
  if (old && !find_header(msg, "description")) next.description = old->description;
  std::string body = old ? "Group '" + group + "' updated\n" : "Group '" + group + "' created\n";
  std::uint32_t status = old ? 200 : 201;
  Later o = later(std::move(origin));
  r.auth().save_group(std::move(next), [&r, o, status, body](Status s) {
    if (!s) return store_failed(r, *o, s);
    reply(r, *o, status, body);
  });
}

void delete_group(Router& r, const Caller& caller, const std::string& group, Origin origin) {
  if (!may_administer(caller)) return reply(r, origin, 403);
  auto members = r.auth().users().group_members();
  auto it = members.find(group);
  if (it == members.end()) return reply(r, origin, 404);
  if (is_root_only_label(group) && caller.user != kRootUser)
    return reply(r, origin, 403, "Only root may grant or remove '" + group + "'\n");
  Later o = later(std::move(origin));
  // Members lose the label first, then the metadata goes; the answer waits for all.
  auto left = std::make_shared<std::size_t>(it->second.size() + 1);
  auto failed = std::make_shared<bool>(false);
  auto one_done = [&r, o, left, failed, group](Status s) {
    if (!s && !*failed) {
      *failed = true;
      store_failed(r, *o, s);
    }
    if (--*left == 0 && !*failed) reply(r, *o, 200, "Group '" + group + "' deleted\n");
  };
  for (const std::string& name : it->second) {
    const store::UserRecord* u = r.auth().users().find(name);
    if (!u) {
      one_done({});
      continue;
    }
    store::UserRecord next = *u;
    std::erase(next.groups, group);
    r.auth().save_user(std::move(next), [&r, name, one_done](Status s) {
      r.events().refresh_caller(name, r.auth().caller_for(name));
      one_done(std::move(s));
    });
  }
  if (r.auth().users().group(group)) r.auth().delete_group(group, one_done);
  else one_done({});
}

}  // namespace

void handle_groups(Router& r, const Caller& caller, const pb::Message& msg, Origin origin) {
  const std::string& path = msg.path();
  if (path == "/groups") {
    auto members = r.auth().users().group_members();
    std::string out = "Groups:\n";
    for (const auto& [name, users] : members)
      out += "  " + pad(name, 20) + " " + std::to_string(users.size()) + " members\n";
    if (members.empty()) out += "  (none)\n";
    return reply(r, origin, 200, out);
  }
  std::string rest = path.substr(std::string_view("/groups/").size());
  std::string group = rest.substr(0, rest.find('/'));
  std::string tail = rest.size() > group.size() ? rest.substr(group.size()) : std::string();
  if (group.empty()) return reply(r, origin, 404);
  if (tail == "/add" || tail == "/remove") {
    if (msg.method() != pb::CALL && msg.method() != pb::SET) return reply(r, origin, 404);
    return group_member(r, caller, group, tail == "/add", msg, std::move(origin));
  }
  if (!tail.empty()) return reply(r, origin, 404);
  if (msg.method() == pb::SET) return set_group(r, caller, group, msg, std::move(origin));
  if (msg.method() == pb::CALL) {
    std::string action = header(msg, "action");
    if (action == "delete") return delete_group(r, caller, group, std::move(origin));
    if (!action.empty()) return reply(r, origin, 400, "Unknown action: " + action + "\n");
  }
  auto members = r.auth().users().group_members();
  auto it = members.find(group);
  if (it == members.end()) return reply(r, origin, 404);
  std::string out = "Group: " + group + "\n";
  if (const store::GroupRecord* g = r.auth().users().group(group); g && !g->description.empty())
    out += "Description: " + g->description + "\n";
  out += "Members: " + (it->second.empty() ? std::string("(none)") : join(it->second, " ")) + "\n";
  reply(r, origin, 200, out);
}

}  // namespace portal::router::core

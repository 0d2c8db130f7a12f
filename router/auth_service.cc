#include "router/auth_service.h"

#include <boost/asio/post.hpp>

#include "common/log.h"
#include "portal/config_values.h"
#include "router/identity/secret.h"
#include "router/store/legacy_users.h"
#include "router/store/names.h"

namespace portal::router {

namespace {

constexpr const char* kTopic = "auth";
constexpr auto kCheckCacheTtl = std::chrono::minutes(5);
constexpr std::size_t kCheckCacheMax = 4096;
constexpr std::size_t kMaxPasswordBytes = 4096;

identity::TimePoint now() { return identity::Clock::now(); }

// Names longer than any valid user name are cut for throttle keys, logs and events, so a
// hostile megabyte-long name costs no memory or log space.
std::string bounded(const std::string& s) {
  constexpr std::size_t kMax = 80;
  return s.size() <= kMax ? s : s.substr(0, kMax) + "...(" + std::to_string(s.size()) + " bytes)";
}

Resolution refused(int status, std::string body) {
  Resolution r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Resolution throttled(std::chrono::seconds wait) {
  return refused(429, "Too many failed logins; try again in " + std::to_string(wait.count()) + " s\n");
}

// A strictly positive decimal no larger than `max`, or nullopt.
std::optional<std::uint64_t> positive(const std::string& text, std::uint64_t max) {
  auto v = config_values::parse_number(text);
  if (!v || *v == 0 || *v > max) return std::nullopt;
  return v;
}

}  // namespace

AuthService::AuthService(EventLoop& loop, Emit emit)
    : loop_(loop), emit_(std::move(emit)), alive_(std::make_shared<bool>(true)) {}

AuthService::~AuthService() {
  *alive_ = false;
  hash_pool_.join();
  store_pool_.join();
}

template <class Fn>
void AuthService::post_to_loop(Fn fn) {
  loop_.post([alive = alive_, fn = std::move(fn)]() mutable {
    if (*alive) fn();
  });
}

Result<AuthSettings> AuthService::settings_from(const std::map<std::string, std::string>& config) {
  AuthSettings s;
  auto get = [&](const char* key) -> const std::string* {
    auto it = config.find(key);
    return it == config.end() ? nullptr : &it->second;
  };
  if (const std::string* v = get("core.data_dir")) s.data_dir = *v;
  if (s.data_dir.empty()) return make_error(400, "core.data_dir is not set");
  if (const std::string* v = get("core.users_file")) s.users_file = *v;
  if (const std::string* v = get("core.session_ttl")) {
    auto ttl = positive(*v, 366ull * 24 * 3600);
    if (!ttl) return make_error(400, "core.session_ttl: expected seconds, 1 to 31622400");
    s.session_ttl = std::chrono::seconds(*ttl);
  }
  if (const std::string* v = get("core.scrypt_log2_n")) {
    auto ln = positive(*v, identity::kMaxLog2N);
    if (!ln || *ln < 10) return make_error(400, "core.scrypt_log2_n: expected 10 to 20");
    s.scrypt.log2_n = static_cast<unsigned>(*ln);
  }
  return s;
}

Status AuthService::open(const AuthSettings& settings, std::vector<std::string>& warnings) {
  settings_ = settings;
  auto files = store::FileStore::open(settings_.data_dir);
  if (!files) return files.error();
  files_ = std::make_unique<store::FileStore>(std::move(*files));
  fanout_ = std::make_unique<store::StorageFanout>(*files_);
  sessions_ = identity::SessionTable(identity::SessionConfig{settings_.session_ttl, 64});
  auto pepper = identity::random_bytes(32);
  if (!pepper) return pepper.error();
  pepper_ = std::move(*pepper);
  // The value unknown users are checked against: same cost as a real check, and no KDF run
  // at start-up to make it.
  auto dummy = identity::unmatchable_hash(settings_.scrypt);
  if (!dummy) return dummy.error();
  dummy_hash_ = std::move(*dummy);
  load_users(warnings);
  load_legacy_file(warnings);
  if (!users_.find(kRootUser)) {
    // As the original: root always exists; with no stored record it has an unreachable
    // password and no key until an operator sets them.
    store::UserRecord root;
    root.name = kRootUser;
    root.password_hash = dummy_hash_;
    root.groups = {"root"};
    users_.put(std::move(root));
  }
  hash_plain_passwords();
  return {};
}

void AuthService::load_users(std::vector<std::string>& warnings) {
  auto users = files_->load_users();
  for (auto& e : users.errors) warnings.push_back(std::move(e));
  for (auto& u : users.items) users_.put(std::move(u));
  auto groups = files_->load_groups();
  for (auto& e : groups.errors) warnings.push_back(std::move(e));
  for (auto& g : groups.items) users_.put_group(std::move(g));
}

// The original's users.conf seeds users the store does not have yet; they are written to
// the store so that later edits (and the hashing of plain-text passwords) stick.
void AuthService::load_legacy_file(std::vector<std::string>& warnings) {
  if (settings_.users_file.empty()) return;
  auto report = store::load_legacy_users_file(settings_.users_file, [] {
    auto k = identity::new_api_key();
    return k ? *k : std::string();
  });
  if (!report) {
    if (report.error().code != 404) warnings.push_back(settings_.users_file + ": " + report.error().message);
    return;
  }
  for (auto& e : report->errors) warnings.push_back(std::move(e));
  for (auto& lu : report->items) {
    if (users_.find(lu.name)) continue;  // the store wins over the seed file
    store::UserRecord u{lu.name, lu.password, lu.api_key, lu.labels};
    if (Status s = files_->save_user(u); !s) warnings.push_back(settings_.users_file + ": " + s.error().message);
    users_.put(std::move(u));
  }
}

// "Plain-text values in old files are accepted once": they are replaced by scrypt hashes
// as soon as the router starts, so the file holds no password for longer than that.
void AuthService::hash_plain_passwords() {
  for (const store::UserRecord* u : users_.sorted()) {
    if (u->password_hash.empty() || identity::stored_kind(u->password_hash) != identity::StoredKind::kPlain) continue;
    upgrade_hash(u->name, u->password_hash, u->password_hash);
  }
}

std::string AuthService::cache_key(const std::string& name, const std::string& password) const {
  std::string material = pepper_;
  material += name;
  material.push_back('\0');
  material += password;
  return identity::sha256(material);
}

Caller AuthService::caller_for(const std::string& user) const {
  const store::UserRecord* u = users_.find(user);
  return u ? users_.caller_for(*u) : Caller{};
}

// --- resolving credentials -----------------------------------------------------------------

void AuthService::resolve(const pb::Credentials& cred, const std::string& source, ResolveDone done) {
  if (!cred.api_key().empty()) {
    const store::UserRecord* u = users_.find_by_key(cred.api_key());
    if (!u) return done(refused(401, "Authentication failed\n"));
    return done(Resolution{200, {}, users_.caller_for(*u)});
  }
  if (!cred.token().empty()) {
    // A bearer token is a session token or an API key.
    if (auto user = sessions_.resolve(cred.token(), now())) {
      if (const store::UserRecord* u = users_.find(*user)) return done(Resolution{200, {}, users_.caller_for(*u)});
    }
    if (const store::UserRecord* u = users_.find_by_key(cred.token()))
      return done(Resolution{200, {}, users_.caller_for(*u)});
    return done(refused(401, "Invalid or expired token\n"));
  }
  if (!cred.username().empty() || !cred.password().empty()) {
    if (cred.username().empty() || cred.password().empty()) return done(refused(401, "Authentication failed\n"));
    return check_password(cred.username(), cred.password(), source, std::move(done));
  }
  done(Resolution{});
}

void AuthService::check_password(const std::string& name, const std::string& password, const std::string& source,
                                 ResolveDone done) {
  check_password(name, password, source, std::move(done), false);
}

void AuthService::check_password(const std::string& name, const std::string& password, const std::string& source,
                                 ResolveDone done, bool retried) {
  const auto t = now();
  if (auto wait = by_user_.check(bounded(name), t)) return done(throttled(*wait));
  if (auto wait = by_source_.check(bounded(source), t)) return done(throttled(*wait));
  if (password.size() > kMaxPasswordBytes || name.size() > store::kMaxNameLength)
    return finish_check(name, password, source, {}, false, {}, std::move(done), true);
  const store::UserRecord* u = users_.find(name);
  std::string stored = u && !u->password_hash.empty() ? u->password_hash : dummy_hash_;
  const bool existed = u && !u->password_hash.empty();
  if (existed) {
    auto hit = checked_.find(cache_key(name, password));
    if (hit != checked_.end() && hit->second.expires > t && hit->second.stored == stored) {
      by_user_.success(bounded(name));
      return done(Resolution{200, {}, users_.caller_for(*u)});
    }
  }
  boost::asio::post(hash_pool_, [this, alive = alive_, name, password, source, stored, existed, retried,
                                 scrypt = settings_.scrypt, done = std::move(done)]() mutable {
    identity::Verdict v = identity::verify_password(stored, password, scrypt);
    loop_.post([this, alive, name = std::move(name), password = std::move(password), source = std::move(source),
                stored = std::move(stored), existed, v, retried, done = std::move(done)]() mutable {
      if (*alive) finish_check(name, password, source, stored, existed, v, std::move(done), retried);
    });
  });
}

void AuthService::finish_check(const std::string& name, const std::string& password, const std::string& source,
                               const std::string& stored, bool user_existed, identity::Verdict verdict,
                               ResolveDone done, bool retried) {
  const auto t = now();
  const store::UserRecord* u = users_.find(name);
  // The record changed while the hash ran (an upgrade of a legacy value, a new password,
  // a new user): check once more against what is stored now.
  const std::string current = u && !u->password_hash.empty() ? u->password_hash : dummy_hash_;
  if (!retried && current != stored) return check_password(name, password, source, std::move(done), true);
  // The record may have changed while the hash ran: only the value checked counts.
  bool ok = verdict.ok && user_existed && u && u->password_hash == stored;
  if (!ok) {
    const std::string who = bounded(name), from = bounded(source);
    identity::FailureOutcome f = by_user_.failure(who, t);
    by_source_.failure(from, t);
    std::string line = "login failed for user '" + who + "' from " + (from.empty() ? "-" : from) + " (" +
                       std::to_string(f.failures) + " in a row";
    if (f.locked_for.count() > 0) line += "; locked for " + std::to_string(f.locked_for.count()) + " s";
    log::warn(kTopic, line + ")");
    if (emit_) emit_("/events/auth/login_failed", "user=" + who + "\nsource=" + from + "\n");
    return done(refused(401, "Authentication failed\n"));
  }
  by_user_.success(bounded(name));
  if (checked_.size() >= kCheckCacheMax) checked_.clear();
  checked_[cache_key(name, password)] = CachedCheck{name, stored, t + kCheckCacheTtl};
  if (verdict.needs_rehash) upgrade_hash(name, password, stored);
  done(Resolution{200, {}, users_.caller_for(*u)});
}

// A legacy, plain or outdated value that just proved right is replaced by a fresh hash,
// unless the record changed in the meantime.
void AuthService::upgrade_hash(const std::string& name, const std::string& password, const std::string& stored) {
  hash_password(password, [this, name, stored](Result<std::string> hashed) {
    if (!hashed) return log::error(kTopic, "re-hashing the password of '" + name + "': " + hashed.error().message);
    const store::UserRecord* u = users_.find(name);
    if (!u || u->password_hash != stored) return;
    store::UserRecord next = *u;
    next.password_hash = std::move(*hashed);
    save_user(std::move(next), [name](Status s) {
      if (s) log::info(kTopic, "password of '" + name + "' upgraded to scrypt");
      else log::error(kTopic, "storing the upgraded password of '" + name + "': " + s.error().message);
    });
  });
}

void AuthService::hash_password(std::string password, std::function<void(Result<std::string>)> done) {
  boost::asio::post(hash_pool_, [this, alive = alive_, password = std::move(password), scrypt = settings_.scrypt,
                                 done = std::move(done)]() mutable {
    Result<std::string> hashed = identity::hash_password(password, scrypt);
    loop_.post([alive, hashed = std::move(hashed), done = std::move(done)]() mutable {
      if (*alive) done(std::move(hashed));
    });
  });
}

void AuthService::adopt(std::vector<store::UserRecord> users, std::vector<store::GroupRecord> groups) {
  for (auto& u : users)
    if (!users_.find(u.name)) users_.put(std::move(u));
  for (auto& g : groups)
    if (!users_.group(g.name)) users_.put_group(std::move(g));
}

// --- sessions ----------------------------------------------------------------------------

Result<std::string> AuthService::create_session(const std::string& user) { return sessions_.create(user, now()); }

bool AuthService::logout(const std::string& token) { return sessions_.logout(token); }

std::optional<std::string> AuthService::session_user(const std::string& token) {
  return sessions_.resolve(token, now());
}

void AuthService::sweep() {
  const auto t = now();
  sessions_.sweep(t);
  by_user_.sweep(t);
  by_source_.sweep(t);
  for (auto it = checked_.begin(); it != checked_.end();) {
    if (it->second.expires <= t) it = checked_.erase(it);
    else ++it;
  }
}

// --- persistence ---------------------------------------------------------------------------

void AuthService::with_store(std::function<Status(store::StorageFanout&)> op, StatusDone done) {
  if (!fanout_) {
    if (done) done(make_error(503, "storage is not open"));
    return;
  }
  boost::asio::post(store_pool_, [this, alive = alive_, op = std::move(op), done = std::move(done)]() mutable {
    Status s = op(*fanout_);
    loop_.post([alive, s = std::move(s), done = std::move(done)]() mutable {
      if (*alive && done) done(std::move(s));
    });
  });
}

namespace {

Status report_status(const store::WriteReport& r) {
  if (!r.file) return r.file;
  for (const auto& p : r.providers)
    log::warn(kTopic, "storage provider '" + p.provider + "' missed a write (kept pending): " + p.error.message);
  return {};
}

}  // namespace

void AuthService::save_user(store::UserRecord user, StatusDone done) {
  std::optional<store::UserRecord> before;
  if (const store::UserRecord* old = users_.find(user.name)) before = *old;
  users_.put(user);
  with_store([user](store::StorageFanout& f) { return report_status(f.save_user(user)); },
             [this, user, before = std::move(before), done = std::move(done)](Status s) {
               if (!s) {
                 const store::UserRecord* cur = users_.find(user.name);
                 if (cur && *cur == user) {
                   if (before) users_.put(*before);
                   else users_.erase(user.name);
                 }
               }
               if (done) done(std::move(s));
             });
}

void AuthService::delete_user(const std::string& name, StatusDone done) {
  std::optional<store::UserRecord> before;
  if (const store::UserRecord* old = users_.find(name)) before = *old;
  users_.erase(name);
  sessions_.logout_user(name);
  with_store([name](store::StorageFanout& f) { return report_status(f.delete_user(name)); },
             [this, name, before = std::move(before), done = std::move(done)](Status s) {
               if (!s && before && !users_.find(name)) users_.put(*before);
               if (done) done(std::move(s));
             });
}

void AuthService::save_group(store::GroupRecord group, StatusDone done) {
  std::optional<store::GroupRecord> before;
  if (const store::GroupRecord* old = users_.group(group.name)) before = *old;
  users_.put_group(group);
  with_store([group](store::StorageFanout& f) { return report_status(f.save_group(group)); },
             [this, group, before = std::move(before), done = std::move(done)](Status s) {
               if (!s) {
                 const store::GroupRecord* cur = users_.group(group.name);
                 if (cur && *cur == group) {
                   if (before) users_.put_group(*before);
                   else users_.erase_group(group.name);
                 }
               }
               if (done) done(std::move(s));
             });
}

void AuthService::delete_group(const std::string& name, StatusDone done) {
  std::optional<store::GroupRecord> before;
  if (const store::GroupRecord* old = users_.group(name)) before = *old;
  users_.erase_group(name);
  with_store([name](store::StorageFanout& f) { return report_status(f.delete_group(name)); },
             [this, name, before = std::move(before), done = std::move(done)](Status s) {
               if (!s && before && !users_.group(name)) users_.put_group(*before);
               if (done) done(std::move(s));
             });
}

}  // namespace portal::router

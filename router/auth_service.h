// Identity in the router (DESIGN.md 2, COMPAT.md 1.6): users, groups, sessions, API keys,
// password checks and failed-login throttling, and the store they persist to.
//
// Threads: everything here runs on the router's loop except two pools it owns —
//   * the hashing pool (scrypt costs ~100 ms; never on the loop), and
//   * the store thread, the only thread that touches the file store and providers, so
//     writes reach the disk in the order they were made.
// Results come back to the loop through EventLoop::post.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "portal.pb.h"
#include "portal/result.h"
#include "router/access.h"
#include "router/event_loop.h"
#include "router/identity/password.h"
#include "router/identity/sessions.h"
#include "router/identity/throttle.h"
#include "router/store/storage_fanout.h"
#include "router/users.h"

namespace portal::router {

// What a set of credentials resolved to. status 200: `caller` (anonymous when no
// credentials were given); 401 wrong credentials; 429 throttled; 500 internal.
struct Resolution {
  int status = 200;
  std::string body;
  Caller caller;
};
using ResolveDone = std::function<void(Resolution)>;
using StatusDone = std::function<void(Status)>;

struct AuthSettings {
  std::string data_dir;
  std::string users_file;  // legacy seed file; empty: none
  std::chrono::seconds session_ttl{3600};
  identity::ScryptParams scrypt;  // production parameters unless a test lowers them
};

class AuthService {
 public:
  using Emit = std::function<void(const std::string& path, const std::string& body)>;

  AuthService(EventLoop& loop, Emit emit);
  ~AuthService();
  AuthService(const AuthService&) = delete;
  AuthService& operator=(const AuthService&) = delete;

  // Reads settings from the flat config ("core.data_dir", "core.users_file",
  // "core.session_ttl", "core.scrypt_log2_n"); 400 with a clear message when one is bad.
  static Result<AuthSettings> settings_from(const std::map<std::string, std::string>& config);
  // Opens the file store and loads users and groups; a file that does not load is one
  // warning naming it, the others still load. Fails only when the store cannot be opened.
  Status open(const AuthSettings& settings, std::vector<std::string>& warnings);
  bool is_open() const { return fanout_ != nullptr; }

  // Credentials to a caller: API key, then session token (a bearer token may be either),
  // then user name + password. `done` runs before resolve() returns unless a password has
  // to be checked (then on the loop, later). `source` keys the failed-login throttle.
  void resolve(const pb::Credentials& cred, const std::string& source, ResolveDone done);
  // The user + password check behind resolve() and /auth/login: throttled, off the loop,
  // every failure logged and emitted as /events/auth/login_failed.
  void check_password(const std::string& name, const std::string& password, const std::string& source,
                      ResolveDone done);

  Result<std::string> create_session(const std::string& user);
  bool logout(const std::string& token);
  std::optional<std::string> session_user(const std::string& token);

  const Users& users() const { return users_; }
  Caller caller_for(const std::string& user) const;

  // Mutations: memory first (so the next request sees them), then the store thread;
  // `done` runs on the loop once the write is durable. A failed write is undone in memory
  // when nothing newer replaced it.
  void save_user(store::UserRecord user, StatusDone done);
  void delete_user(const std::string& name, StatusDone done);
  void save_group(store::GroupRecord group, StatusDone done);
  void delete_group(const std::string& name, StatusDone done);
  // Hashes on the pool, then runs `done` on the loop.
  void hash_password(std::string password, std::function<void(Result<std::string>)> done);
  // Records read from a storage provider at attach time (already in the file store).
  void adopt(std::vector<store::UserRecord> users, std::vector<store::GroupRecord> groups);
  // Ends every session of `user` (password changed by someone else, user removed).
  void logout_user(const std::string& user) { sessions_.logout_user(user); }

  // Runs `op` on the store thread, then `done(result)` on the loop.
  void with_store(std::function<Status(store::StorageFanout&)> op, StatusDone done);
  // Blocking read for start-up only (before the loop serves anything).
  store::StorageFanout* store_for_startup() { return fanout_.get(); }
  const std::string& data_dir() const { return settings_.data_dir; }

  // Expired sessions, quiet throttle entries, stale cache entries. Call periodically.
  void sweep();

 private:
  struct CachedCheck {
    std::string user;
    std::string stored;  // the hash the password was checked against
    identity::TimePoint expires;
  };
  void check_password(const std::string& name, const std::string& password, const std::string& source,
                      ResolveDone done, bool retried);
  void finish_check(const std::string& name, const std::string& password, const std::string& source,
                    const std::string& stored, bool user_existed, identity::Verdict verdict, ResolveDone done,
                    bool retried);
  void upgrade_hash(const std::string& name, const std::string& password, const std::string& stored);
  void load_users(std::vector<std::string>& warnings);
  void load_legacy_file(std::vector<std::string>& warnings);
  void hash_plain_passwords();
  std::string cache_key(const std::string& name, const std::string& password) const;
  template <class Fn>
  void post_to_loop(Fn fn);

  EventLoop& loop_;
  Emit emit_;
  AuthSettings settings_;
  std::unique_ptr<store::FileStore> files_;
  std::unique_ptr<store::StorageFanout> fanout_;
  Users users_;
  identity::SessionTable sessions_;
  identity::Throttle by_user_;
  identity::Throttle by_source_;
  std::unordered_map<std::string, CachedCheck> checked_;  // cache_key -> a recent good check
  std::string pepper_;      // random per process: cache keys say nothing outside it
  std::string dummy_hash_;  // checked for unknown users, so timing does not reveal them
  std::shared_ptr<bool> alive_;
  boost::asio::thread_pool hash_pool_{2};
  boost::asio::thread_pool store_pool_{1};
};

}  // namespace portal::router

// portal-router: one Boost.Asio loop owning the path table, the module table, every
// in-flight request and the control socket to portald (docs/ARCHITECTURE.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ipc/channel.h"
#include "portal.pb.h"
#include "router/access.h"
#include "router/auth_service.h"
#include "router/event_hub.h"
#include "router/event_loop.h"
#include "router/events/locks.h"
#include "router/module_link.h"
#include "router/path_table.h"
#include "router/remote_provider.h"

namespace portal::router {

inline constexpr std::uint32_t kDefaultQueueLimit = 1024;

struct ModuleEntry {
  std::string name;
  pb::ModuleStatus status;  // as portald last reported it
  std::string version;
  std::string description;
  std::unique_ptr<ModuleLink> link;  // the live incarnation, if any
  bool ready = false;                // its hello arrived and its paths are registered
  std::uint32_t timeout_ms = 30000;
  std::uint32_t queue_limit = kDefaultQueueLimit;
  std::uint64_t msgs = 0;  // requests delivered to it
  std::uint64_t in_flight = 0;
  // Paths the live incarnation registered one by one: they may overtake its hello.
  std::unordered_set<std::string> fresh_paths;
};

// Who gets the response of a routed request.
struct Origin {
  std::string module;  // empty: internal (callback)
  std::uint64_t generation = 0;
  std::uint64_t id = 0;  // the id the origin used
  std::function<void(pb::Response&)> callback;
  // Set while trace subscribers listen: the response line needs them.
  std::uint64_t trace_id = 0;
  std::string trace_path;
};

struct Pending {
  Origin origin;
  std::string target;
  std::uint64_t target_generation = 0;
  std::uint64_t deadline_us = 0;
  std::string path;
  std::uint64_t trace_id = 0;
};

class Router {
 public:
  Router(EventLoop& loop, int control_fd);
  ~Router();
  void start();

  // Used by core paths.
  const PathTable& paths() const { return paths_; }
  const std::map<std::string, ModuleEntry>& modules() const { return modules_; }
  std::uint64_t requests_routed() const { return routed_; }
  const std::map<std::string, std::string>& config() const { return config_; }
  AuthService& auth() { return *auth_; }
  EventHub& events() { return events_; }
  events::LockTable& locks() { return locks_; }
  // Emits an event of the core (/events/auth/..., /events/config/set).
  void emit(const std::string& path, const std::string& body, std::uint64_t trace_id = 0);

  // Module settings as the router sees them: runtime values (/core/config/set) over the
  // config files. nullopt when unset.
  std::optional<std::string> module_setting(const std::string& module, const std::string& key) const;
  // Every "mod_<m>.<key>" -> value (one module, or all when `module` is empty), sorted.
  std::map<std::string, std::string> module_settings(const std::string& module) const;
  // Persists a runtime value, then hands it to the module if it runs; `done` gets the
  // store's verdict.
  void set_module_setting(const std::string& module, const std::string& key, const std::string& value,
                          std::function<void(Status)> done);
  // Routes a request on behalf of the core itself (inprocess uplink, core paths).
  void route(pb::Message&& msg, Origin origin, const std::string& from_module);
  // Operator action through portald; `done` gets the answer.
  void module_action(const std::string& module, const std::string& action,
                     std::function<void(std::uint32_t, std::string)> done);
  // Sends a response to whoever is waiting for it (a module or a callback).
  void answer_origin(Origin& origin, pb::Response& resp) {
    answer(origin, resp);
    flush_dirty();
  }

 private:
  void read_control();
  void configure_spin(const pb::Configure& cfg);
  bool may_sleep();
  bool probe_links();
  void on_control(pb::Control& c, std::vector<ipc::UniqueFd>& fds);
  void on_attach(const pb::AttachWorker& a, std::vector<ipc::UniqueFd>& fds);
  void on_worker_gone(const pb::WorkerGone& g);
  void on_load_inprocess(const pb::LoadInprocess& l);
  void on_forget(const std::string& module);
  void send_control(const pb::Control& c);

  void on_envelope(ModuleLink& link, pb::Envelope& env);
  void on_hello(ModuleLink& link, const pb::WorkerHello& h);
  void on_request(ModuleLink& link, pb::Message& msg);
  void dispatch(pb::Message&& msg, Origin origin, Caller caller);
  // Id, trace and source for a message entering the router; false when draining (answered).
  bool admit(pb::Message& msg, Origin& origin, const std::string& from_module);
  // A message of the core itself, routed as `caller` (storage providers).
  void route_as(pb::Message&& msg, Origin origin, Caller caller);
  void attach_provider(ModuleEntry& m);
  void on_event_method(pb::Message& msg, Origin& origin);
  void on_subscription(pb::Message& msg, Origin& origin, const Caller& caller);
  void on_own_subscribe(ModuleLink& link, const pb::Subscribe& sub);
  void declare_event(const std::string& module, const pb::EventSpec& spec);
  void forget_events(const std::string& module);
  bool may_assert_identity(const std::string& module) const;
  // `[mod_<module>] peer_users = <uid>:<user>, ...`: the Portal user a local UNIX user is.
  std::optional<std::string> peer_user(const std::string& module, std::int64_t uid) const;
  void open_identity();
  void housekeeping();
  void push_overrides(ModuleEntry& m);
  void drain_events();
  void on_response(ModuleLink& link, pb::Response& resp);
  void on_broken(ModuleLink& link, const std::string& why);
  bool register_path(const std::string& owner, const pb::PathSpec& spec);

  void answer(Origin& origin, pb::Response& resp);
  void answer_error(Origin& origin, std::uint32_t status, std::string body);
  void fail_in_flight(const std::string& module, std::uint64_t generation, const std::string& why);
  void detach(ModuleEntry& m);
  void arm_deadline(std::uint64_t deadline_us);
  void on_deadline();
  void mark_dirty(ModuleLink* link) { dirty_.insert(link); }
  void flush_dirty();
  ModuleEntry* find_link_owner(ModuleLink& link);

  EventLoop& loop_;
  int control_fd_;
  std::uint64_t deadline_armed_us_ = 0;
  std::uint64_t last_activity_us_ = 0;
  std::uint32_t spin_us_ = 0;

  std::string instance_;
  std::map<std::string, std::string> config_;
  std::uint32_t default_timeout_ms_ = 30000;
  bool draining_ = false;

  PathTable paths_;
  std::map<std::string, ModuleEntry> modules_;
  std::unique_ptr<AuthService> auth_;
  EventHub events_;
  events::LockTable locks_;
  // Runtime settings (/core/config/set), persisted in the store: module -> key -> value.
  std::map<std::string, std::map<std::string, std::string>> overrides_;
  std::uint64_t next_housekeeping_us_ = 0;
  std::map<std::string, std::shared_ptr<RemoteProvider>> providers_;  // by module
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);

  std::unordered_map<std::uint64_t, Pending> pending_;
  using Deadline = std::pair<std::uint64_t, std::uint64_t>;  // (deadline_us, id)
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  std::uint64_t next_id_ = 1;
  std::uint64_t routed_ = 0;
  std::uint64_t epoch_;

  std::unordered_set<ModuleLink*> dirty_;
  std::unordered_map<std::uint64_t, std::function<void(std::uint32_t, std::string)>> actions_;
  std::uint64_t next_action_ = 1;
  pb::Envelope out_;
};

}  // namespace portal::router

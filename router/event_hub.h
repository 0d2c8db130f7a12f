// Events, subscriptions and live traces in the router (COMPAT.md 1.7, 1.8): the registry
// and trace hub of router/events/ plus one bounded delivery queue per subscribing module.
//
// Emitting never waits: matching deliveries are pushed into the subscribers' queues and
// the router drains each queue into its module's ring while that ring's backlog is small.
// A module that does not keep up loses its oldest deliveries (counted and reported to it
// in the next delivery), never slows the router or other modules.
//
// A subscription is named by its module and the id the module chose for it, so the module
// can re-issue it with the same id after a router restart.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "portal.pb.h"
#include "portal/result.h"
#include "router/events/queue.h"
#include "router/events/registry.h"
#include "router/events/trace.h"

namespace portal::router {

// Envelopes a module's ring may hold before the hub stops adding deliveries to it.
inline constexpr std::size_t kEventBacklogLimit = 64;

class EventHub {
 public:
  explicit EventHub(events::QueueLimits limits = {}) : limits_(limits) {}

  Status declare(events::EventDecl decl) { return registry_.declare(std::move(decl)); }
  Status undeclare(std::string_view path, std::string_view owner) { return registry_.undeclare(path, owner); }
  const events::EventDecl* find(std::string_view path) const { return registry_.find(path); }
  // The /events listing, rows filtered for `viewer`.
  std::string listing(const Caller& viewer) const { return registry_.listing(&viewer); }

  // 400 bad pattern, 403 "Subscribe denied", 404 undeclared exact event (require_declared).
  Status subscribe(const std::string& module, std::uint64_t sid, const std::string& pattern, const Caller& caller,
                   bool require_declared);
  // 400 when the filter is not valid.
  Status trace(const std::string& module, std::uint64_t sid, const std::string& filter, bool debug);
  bool unsubscribe(const std::string& module, std::uint64_t sid);
  // The module went away (or was restarted): its subscriptions, traces, queue and
  // declarations go with it. Returns the event paths it had declared.
  std::vector<std::string> drop_module(const std::string& module);
  // Only subscriptions and queued deliveries (a new incarnation re-subscribes itself).
  void drop_subscriptions(const std::string& module);
  // A user's labels changed: subscriptions made as that user follow.
  void refresh_caller(const std::string& user, const Caller& caller);

  // Fans an event out; returns how many subscriptions it reached.
  std::size_t emit(const std::string& path, const std::string& body, std::uint64_t trace_id);

  bool tracing() const { return !traces_.empty(); }
  void trace_request(const events::TraceRequest& r);
  void trace_response(const events::TraceResponse& r);

  // Modules with deliveries waiting.
  const std::set<std::string>& waiting() const { return waiting_; }
  // Hands queued deliveries of `module` to `send` (one envelope each) while `has_room()`.
  void drain(const std::string& module, const std::function<bool()>& has_room,
             const std::function<void(const pb::Envelope&)>& send);

  std::uint64_t dropped_total() const;
  std::size_t subscription_count() const { return subs_.size(); }

 private:
  struct Ref {
    bool is_trace = false;
    std::uint64_t id = 0;  // registry or trace hub id
    std::string user;      // the identity it was made as (for refresh_caller)
  };
  struct Outbox {
    events::DeliveryQueue queue;
    std::uint64_t reported = 0;  // drops already told to the module
  };
  using Key = std::pair<std::string, std::uint64_t>;  // (module, sid)

  void push(const std::string& module, events::QueuedEvent ev);
  void forget(const Ref& ref);  // out of the registry or trace hub and the owner maps
  static std::string subscriber_name(const std::string& module, std::uint64_t sid);

  events::QueueLimits limits_;
  events::Registry registry_;
  events::TraceHub traces_;
  std::map<Key, Ref> subs_;
  std::unordered_map<events::SubscriptionId, Key> sub_owner_;  // registry id -> (module, sid)
  std::unordered_map<events::TraceSubId, Key> trace_owner_;
  std::unordered_map<std::string, Outbox> outboxes_;
  std::set<std::string> waiting_;
  std::uint64_t dropped_gone_ = 0;  // drops counted in outboxes since removed
};

}  // namespace portal::router

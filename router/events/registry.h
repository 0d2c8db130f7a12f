// The one event registry (COMPAT.md 1.8): declared events and subscriptions, with the
// event ACL checked when subscribing and again on every delivery. Pure data: the router
// decides what a delivery means (a worker message, an interface push) and owns the queues.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "portal/result.h"
#include "router/access.h"

namespace portal::events {

using router::Caller;

// The identity events are delivered under, and the identity module subscriptions get
// when the module does not pass its own (COMPAT.md 1.8: user __system__, labels {root}).
inline constexpr std::string_view kSystemUser = "__system__";
Caller system_caller();

struct EventDecl {
  std::string path;
  std::string description;
  std::vector<std::string> labels;
  std::string owner;  // module that declared it
};

using SubscriptionId = std::uint64_t;

struct Subscription {
  SubscriptionId id = 0;
  std::string pattern;     // exact path, "/prefix/*" or "*"
  std::string subscriber;  // module name or interface client id
  Caller caller;           // identity the ACL is checked against
};

// COMPAT.md 1.8 "ACL at emit". `decl` is null for an undeclared event.
// Root (user "root" or label "root", which the system identity carries) always passes;
// undeclared events reach only root; unlabelled declared events reach everyone; otherwise
// the caller's labels must intersect the event's.
bool event_allows(const Caller& caller, const EventDecl* decl);

class Registry {
 public:
  // 409 when the path is already declared (by anyone); 400 when the path is not valid.
  Status declare(EventDecl decl);
  // 404 when not declared, 403 when declared by another owner.
  Status undeclare(std::string_view path, std::string_view owner);
  // Removes every event `owner` declared; returns how many.
  std::size_t undeclare_owner(std::string_view owner);
  // The paths `owner` declared, sorted.
  std::vector<std::string> declared_by(std::string_view owner) const;
  // Relabels a declared event; deliveries from now on use the new labels.
  Status set_labels(std::string_view path, std::vector<std::string> labels);
  const EventDecl* find(std::string_view path) const;
  std::size_t event_count() const { return events_.size(); }

  // Subscribes `subscriber` to `pattern` as `caller`. An exact pattern naming a declared
  // event is ACL-checked now (403 "Subscribe denied"); patterns and undeclared paths are
  // accepted and filtered per delivery. With `require_declared` (the interface SUB of
  // /events/<path>) an undeclared exact path is 404. The same (pattern, subscriber) again
  // returns the existing id and takes the new caller identity.
  Result<SubscriptionId> subscribe(std::string_view pattern, std::string_view subscriber,
                                   const Caller& caller, bool require_declared = false);
  bool unsubscribe(SubscriptionId id);
  // Removes the subscription of `subscriber` to exactly `pattern` (UNSUB /events/<path>).
  bool unsubscribe(std::string_view pattern, std::string_view subscriber);
  std::size_t unsubscribe_all(std::string_view subscriber);
  // A subscriber's identity changed (login, labels edited): later deliveries use it.
  std::size_t update_caller(std::string_view subscriber, const Caller& caller);
  const Subscription* subscription(SubscriptionId id) const;
  std::size_t subscription_count() const { return subs_.size(); }

  // Subscriptions allowed to receive `event_path` now, in subscription order. Pointers
  // stay valid until the next call that changes subscriptions.
  std::vector<const Subscription*> match(std::string_view event_path) const;

  // The /events text (COMPAT.md 2). With a viewer, rows are filtered by the row filter of
  // COMPAT.md 1.5 and the count is of the rows shown; without one, everything is listed.
  std::string listing(const Caller* viewer = nullptr) const;

 private:
  std::map<std::string, EventDecl, std::less<>> events_;           // sorted by path
  std::map<SubscriptionId, Subscription> subs_;                    // in subscription order
  SubscriptionId next_id_ = 1;
};

}  // namespace portal::events

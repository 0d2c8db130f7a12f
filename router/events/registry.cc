#include "router/events/registry.h"

#include <algorithm>

#include "router/events/pattern.h"

namespace portal::events {
namespace {

bool has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool is_root(const Caller& c) { return c.user == "root" || has(c.labels, "root"); }

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::any_of(a.begin(), a.end(), [&](const std::string& x) { return has(b, x); });
}

// COMPAT.md 1.5 row filter, for the optional viewer of the listing.
bool row_visible(const Caller& viewer, const std::vector<std::string>& row_labels) {
  if (is_root(viewer) || has(viewer.labels, "sys.see_all")) return true;
  if (row_labels.empty()) return true;
  return intersects(viewer.labels, row_labels);
}

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

Caller system_caller() { return Caller{std::string(kSystemUser), {"root"}}; }

bool event_allows(const Caller& caller, const EventDecl* decl) {
  if (is_root(caller)) return true;
  if (decl == nullptr) return false;
  if (decl->labels.empty()) return true;
  return intersects(caller.labels, decl->labels);
}

Status Registry::declare(EventDecl decl) {
  if (auto st = validate_event_path(decl.path); !st) return st;
  if (events_.contains(decl.path)) return make_error(409, "event already declared: " + decl.path);
  std::string key = decl.path;
  events_.emplace(std::move(key), std::move(decl));
  return {};
}

Status Registry::undeclare(std::string_view path, std::string_view owner) {
  auto it = events_.find(path);
  if (it == events_.end()) return make_error(404, "event not declared");
  if (it->second.owner != owner) return make_error(403, "event declared by another module");
  events_.erase(it);
  return {};
}

std::vector<std::string> Registry::declared_by(std::string_view owner) const {
  std::vector<std::string> out;
  for (const auto& [path, decl] : events_)
    if (decl.owner == owner) out.push_back(path);
  return out;
}

std::size_t Registry::undeclare_owner(std::string_view owner) {
  return std::erase_if(events_, [&](const auto& kv) { return kv.second.owner == owner; });
}

Status Registry::set_labels(std::string_view path, std::vector<std::string> labels) {
  auto it = events_.find(path);
  if (it == events_.end()) return make_error(404, "event not declared");
  it->second.labels = std::move(labels);
  return {};
}

const EventDecl* Registry::find(std::string_view path) const {
  auto it = events_.find(path);
  return it == events_.end() ? nullptr : &it->second;
}

Result<SubscriptionId> Registry::subscribe(std::string_view pattern, std::string_view subscriber,
                                           const Caller& caller, bool require_declared) {
  if (auto st = validate_pattern(pattern); !st) return st.error();
  if (subscriber.empty()) return make_error(400, "empty subscriber");
  if (!is_wildcard(pattern)) {
    const EventDecl* decl = find(pattern);
    if (decl == nullptr && require_declared) return make_error(404, "event not declared");
    if (decl != nullptr && !event_allows(caller, decl)) return make_error(403, "Subscribe denied");
  }
  for (auto& [id, sub] : subs_) {
    if (sub.pattern == pattern && sub.subscriber == subscriber) {
      sub.caller = caller;
      return id;
    }
  }
  SubscriptionId id = next_id_++;
  subs_.emplace(id, Subscription{id, std::string(pattern), std::string(subscriber), caller});
  return id;
}

bool Registry::unsubscribe(SubscriptionId id) { return subs_.erase(id) > 0; }

bool Registry::unsubscribe(std::string_view pattern, std::string_view subscriber) {
  return std::erase_if(subs_, [&](const auto& kv) {
           return kv.second.pattern == pattern && kv.second.subscriber == subscriber;
         }) > 0;
}

std::size_t Registry::unsubscribe_all(std::string_view subscriber) {
  return std::erase_if(subs_, [&](const auto& kv) { return kv.second.subscriber == subscriber; });
}

std::size_t Registry::update_caller(std::string_view subscriber, const Caller& caller) {
  std::size_t n = 0;
  for (auto& [id, sub] : subs_) {
    if (sub.subscriber != subscriber) continue;
    sub.caller = caller;
    ++n;
  }
  return n;
}

const Subscription* Registry::subscription(SubscriptionId id) const {
  auto it = subs_.find(id);
  return it == subs_.end() ? nullptr : &it->second;
}

std::vector<const Subscription*> Registry::match(std::string_view event_path) const {
  const EventDecl* decl = find(event_path);
  std::vector<const Subscription*> out;
  for (const auto& [id, sub] : subs_) {
    if (pattern_matches(sub.pattern, event_path) && event_allows(sub.caller, decl))
      out.push_back(&sub);
  }
  return out;
}

std::string Registry::listing(const Caller* viewer) const {
  std::string rows;
  std::size_t shown = 0;
  for (const auto& [path, decl] : events_) {
    if (viewer != nullptr && !row_visible(*viewer, decl.labels)) continue;
    ++shown;
    std::size_t pad = path.size() < 40 ? 40 - path.size() : 0;  // "%-40s"
    rows += "  " + path + std::string(pad, ' ') + " [" + decl.owner + "]";
    if (!decl.labels.empty()) rows += " labels:" + join(decl.labels, ',');
    rows += "\n    " + decl.description + "\n";
  }
  std::string out = "Events registered: " + std::to_string(shown) + "\n";
  out += shown == 0 ? "  (none)\n" : rows;
  return out;
}

}  // namespace portal::events

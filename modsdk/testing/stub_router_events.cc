// StubRouter events: the declared-event table, emitted events, subscriptions and the test's
// deliveries. Callbacks run on io(), as on the real hosts' event loop.
#include <boost/asio/post.hpp>

#include "host/convert.h"
#include "testing/stub_router.h"

namespace portal::testing {

namespace {

// The router's rule (COMPAT.md 1.8): exact, "/prefix/*" = anything under "/prefix/", "*".
bool pattern_matches(std::string_view pattern, std::string_view path) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.ends_with("/*")) return path.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == path;
}

}  // namespace

// --- declared and emitted events -------------------------------------------------------------

Status StubRouter::declare_event(EventSpec spec) {
  if (Status valid = host::validate_event_path(spec.path); !valid) return valid;
  if (spec.path.rfind("/events/" + name_ + "/", 0) != 0)
    return make_error(status::forbidden, "a module declares events under /events/" + name_ + "/");
  std::lock_guard lock(mu_);
  if (events_.count(spec.path)) return make_error(status::conflict, spec.path + " is already declared by this module");
  std::string key = spec.path;
  events_.emplace(std::move(key), std::move(spec));
  return {};
}

Status StubRouter::undeclare_event(std::string_view path) {
  std::lock_guard lock(mu_);
  auto it = events_.find(path);
  if (it == events_.end()) return make_error(status::not_found, std::string(path) + " is not declared");
  events_.erase(it);
  return {};
}

std::vector<EventSpec> StubRouter::events() const {
  std::lock_guard lock(mu_);
  std::vector<EventSpec> out;
  for (const auto& [path, spec] : events_) out.push_back(spec);
  return out;
}

void StubRouter::emit(std::string_view path, std::string body) {
  std::vector<std::pair<SubscriptionId, std::shared_ptr<EventCallback>>> reached;
  std::string refused;
  {
    std::lock_guard lock(mu_);
    std::string own = "/events/" + name_ + "/";
    bool valid = host::validate_pattern(path).ok() && path != "*";
    if (!valid)
      refused = "400 Bad event path";
    else if (!events_.count(path) && !path.starts_with(own) && path != kAclBypassEvent)
      refused = "403 Not your event";
    else
      emitted_.push_back({std::string(path), body});
    for (const auto& [id, sub] : subs_)
      if (refused.empty() && sub.info.kind != StubSubscription::Kind::trace &&
          pattern_matches(sub.info.pattern, path))
        reached.emplace_back(id, sub.callback);
  }
  // What the runtime logs for the router's refusal; emit() itself returns nothing.
  if (!refused.empty()) log(LogLevel::warn, "emit " + std::string(path) + " refused: " + refused);
  for (auto& [id, cb] : reached) post_delivery(id, cb, Event{id, std::string(path), body, 0, 0});
}

std::vector<Emitted> StubRouter::emitted() const {
  std::lock_guard lock(mu_);
  return emitted_;
}

void StubRouter::clear_emitted() {
  std::lock_guard lock(mu_);
  emitted_.clear();
}

// --- subscriptions ------------------------------------------------------------------------------

void StubRouter::subscribe(std::string pattern, EventCallback on_event, SubscribeDone done) {
  StubSubscription info;
  info.kind = StubSubscription::Kind::own;
  info.pattern = std::move(pattern);
  add_subscription(std::move(info), std::move(on_event), std::move(done), false);
}

void StubRouter::subscribe_as(std::string pattern, Credentials credentials, EventCallback on_event,
                              SubscribeDone done) {
  StubSubscription info;
  info.kind = StubSubscription::Kind::as;
  info.pattern = std::move(pattern);
  info.credentials = std::move(credentials);
  add_subscription(std::move(info), std::move(on_event), std::move(done), true);
}

void StubRouter::trace(std::string filter, bool debug, Credentials credentials, EventCallback on_line,
                       SubscribeDone done) {
  StubSubscription info;
  info.kind = StubSubscription::Kind::trace;
  info.pattern = std::move(filter);
  info.debug = debug;
  info.credentials = std::move(credentials);
  add_subscription(std::move(info), std::move(on_line), std::move(done), true);
}

void StubRouter::add_subscription(StubSubscription info, EventCallback cb, SubscribeDone done, bool client) {
  std::string pattern = info.pattern;
  if (info.kind != StubSubscription::Kind::trace) {
    if (Status valid = host::validate_pattern(info.pattern); !valid)
      return answer_subscribe(std::move(done), valid.error(), pattern);
  }
  if (!cb) return answer_subscribe(std::move(done), make_error(status::bad_request, "no callback"), pattern);
  Result<SubscriptionId> result = SubscriptionId{0};
  {
    std::lock_guard lock(mu_);
    if (client && refuse_status_ != 0) {
      std::string why = refuse_body_;
      while (!why.empty() && why.back() == '\n') why.pop_back();  // as the runtime reports it
      result = make_error(refuse_status_, std::move(why));
    } else {
      info.id = next_sub_++;
      result = info.id;
      subs_.emplace(info.id, Subscribed{std::move(info), std::make_shared<EventCallback>(std::move(cb))});
    }
  }
  answer_subscribe(std::move(done), std::move(result), pattern);  // outside the lock: it may log
}

void StubRouter::answer_subscribe(SubscribeDone done, Result<SubscriptionId> result, const std::string& pattern) {
  if (!done) {
    if (!result) log(LogLevel::warn, "subscribing " + pattern + " failed: " + result.error().message);
    return;
  }
  boost::asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

bool StubRouter::unsubscribe(SubscriptionId id) {
  std::lock_guard lock(mu_);
  return subs_.erase(id) > 0;
}

std::vector<StubSubscription> StubRouter::subscriptions() const {
  std::lock_guard lock(mu_);
  std::vector<StubSubscription> out;
  for (const auto& [id, sub] : subs_) out.push_back(sub.info);
  return out;
}

void StubRouter::refuse_subscriptions(int status, std::string body) {
  std::lock_guard lock(mu_);
  refuse_status_ = status;
  refuse_body_ = std::move(body);
}

// --- deliveries ------------------------------------------------------------------------------------

void StubRouter::post_delivery(SubscriptionId id, std::shared_ptr<EventCallback> cb, Event ev) {
  boost::asio::post(io_, [this, id, cb = std::move(cb), ev = std::move(ev)] {
    {
      std::lock_guard lock(mu_);
      if (!subs_.count(id)) return;  // ended meanwhile, as the runtime drops it
    }
    // As the real hosts do: an exception is logged, never thrown out of the loop.
    try {
      (*cb)(ev);
    } catch (const std::exception& e) {
      log(LogLevel::warn, std::string("an event callback threw: ") + e.what());
    } catch (...) {
      log(LogLevel::warn, "an event callback threw");
    }
  });
}

std::size_t StubRouter::deliver_event(std::string path, std::string body, std::uint64_t dropped) {
  std::vector<std::pair<SubscriptionId, std::shared_ptr<EventCallback>>> reached;
  std::uint64_t trace_id;
  {
    std::lock_guard lock(mu_);
    trace_id = next_id_++;
    for (const auto& [id, sub] : subs_)
      if (sub.info.kind != StubSubscription::Kind::trace && pattern_matches(sub.info.pattern, path))
        reached.emplace_back(id, sub.callback);
  }
  for (auto& [id, cb] : reached) post_delivery(id, cb, Event{id, path, body, trace_id, dropped});
  poll();
  return reached.size();
}

std::size_t StubRouter::deliver_trace(std::string line) {
  std::vector<std::pair<SubscriptionId, std::shared_ptr<EventCallback>>> reached;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, sub] : subs_)
      if (sub.info.kind == StubSubscription::Kind::trace) reached.emplace_back(id, sub.callback);
  }
  for (auto& [id, cb] : reached) post_delivery(id, cb, Event{id, "/core/trace", line, 0, 0});
  poll();
  return reached.size();
}

}  // namespace portal::testing

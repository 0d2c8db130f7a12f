#include "router/event_hub.h"

#include "router/events/pattern.h"

namespace portal::router {

std::string EventHub::subscriber_name(const std::string& module, std::uint64_t sid) {
  return module + "#" + std::to_string(sid);
}

Status EventHub::subscribe(const std::string& module, std::uint64_t sid, const std::string& pattern,
                           const Caller& caller, bool require_declared) {
  if (sid == 0) return make_error(400, "subscription id must not be 0\n");
  // The same id again: the module re-issues it (router restart, new credentials). The old
  // subscription goes first, so a refusal leaves nothing behind.
  unsubscribe(module, sid);
  Key key{module, sid};
  auto id = registry_.subscribe(pattern, subscriber_name(module, sid), caller, require_declared);
  if (!id) return id.error();
  subs_[key] = Ref{false, *id, caller.user};
  sub_owner_[*id] = key;
  return {};
}

Status EventHub::trace(const std::string& module, std::uint64_t sid, const std::string& filter, bool debug) {
  if (sid == 0) return make_error(400, "subscription id must not be 0\n");
  unsubscribe(module, sid);
  auto id = traces_.add(filter, debug, subscriber_name(module, sid));
  if (!id) return id.error();
  Key key{module, sid};
  subs_[key] = Ref{true, *id, {}};
  trace_owner_[*id] = key;
  return {};
}

void EventHub::forget(const Ref& ref) {
  if (ref.is_trace) {
    traces_.remove(ref.id);
    trace_owner_.erase(ref.id);
  } else {
    registry_.unsubscribe(ref.id);
    sub_owner_.erase(ref.id);
  }
}

bool EventHub::unsubscribe(const std::string& module, std::uint64_t sid) {
  auto it = subs_.find(Key{module, sid});
  if (it == subs_.end()) return false;
  forget(it->second);
  subs_.erase(it);
  return true;
}

void EventHub::drop_subscriptions(const std::string& module) {
  for (auto it = subs_.lower_bound(Key{module, 0}); it != subs_.end() && it->first.first == module;) {
    forget(it->second);
    it = subs_.erase(it);
  }
  if (auto ob = outboxes_.find(module); ob != outboxes_.end()) {
    dropped_gone_ += ob->second.queue.dropped();
    outboxes_.erase(ob);
  }
  waiting_.erase(module);
}

std::vector<std::string> EventHub::drop_module(const std::string& module) {
  drop_subscriptions(module);
  std::vector<std::string> paths = registry_.declared_by(module);
  registry_.undeclare_owner(module);
  return paths;
}

void EventHub::refresh_caller(const std::string& user, const Caller& caller) {
  for (const auto& [key, ref] : subs_)
    if (!ref.is_trace && ref.user == user) registry_.update_caller(subscriber_name(key.first, key.second), caller);
}

std::size_t EventHub::emit(const std::string& path, const std::string& body, std::uint64_t trace_id) {
  std::size_t n = 0;
  for (const events::Subscription* s : registry_.match(path)) {
    auto owner = sub_owner_.find(s->id);
    if (owner == sub_owner_.end()) continue;
    push(owner->second.first, events::QueuedEvent{path, body, trace_id, owner->second.second});
    ++n;
  }
  return n;
}

void EventHub::trace_request(const events::TraceRequest& r) {
  for (auto& line : traces_.on_request(r)) {
    auto it = trace_owner_.find(line.sub);
    if (it == trace_owner_.end()) continue;
    push(it->second.first, events::QueuedEvent{"/core/trace", std::move(line.text), r.trace_id, it->second.second});
  }
}

void EventHub::trace_response(const events::TraceResponse& r) {
  for (auto& line : traces_.on_response(r)) {
    auto it = trace_owner_.find(line.sub);
    if (it == trace_owner_.end()) continue;
    push(it->second.first, events::QueuedEvent{"/core/trace", std::move(line.text), r.trace_id, it->second.second});
  }
}

void EventHub::push(const std::string& module, events::QueuedEvent ev) {
  auto it = outboxes_.find(module);
  if (it == outboxes_.end()) it = outboxes_.emplace(module, Outbox{events::DeliveryQueue(limits_), 0}).first;
  it->second.queue.push(std::move(ev));
  if (!it->second.queue.empty()) waiting_.insert(module);
}

void EventHub::drain(const std::string& module, const std::function<bool()>& has_room,
                     const std::function<void(const pb::Envelope&)>& send) {
  auto it = outboxes_.find(module);
  if (it == outboxes_.end()) {
    waiting_.erase(module);
    return;
  }
  Outbox& ob = it->second;
  pb::Envelope env;
  while (!ob.queue.empty() && has_room()) {
    auto batch = ob.queue.pop_batch(1);
    events::QueuedEvent& ev = batch.front();
    pb::EventDelivery* d = env.mutable_event();
    d->set_subscription(ev.subscription);
    d->set_path(std::move(ev.path));
    d->set_body(std::move(ev.body));
    d->set_trace_id(ev.trace_id);
    d->set_dropped(ob.queue.dropped() - ob.reported);
    ob.reported = ob.queue.dropped();
    send(env);
  }
  if (ob.queue.empty()) waiting_.erase(module);
}

std::uint64_t EventHub::dropped_total() const {
  std::uint64_t n = dropped_gone_;
  for (const auto& [m, ob] : outboxes_) n += ob.queue.dropped();
  return n;
}

}  // namespace portal::router

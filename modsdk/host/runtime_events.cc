// ModuleRuntime events (COMPAT.md 1.8): declared events, emit, subscriptions — the module's
// own, those on behalf of a client, traces — their deliveries, and what a (new) router is
// told in announce().
#include <boost/asio/post.hpp>

#include "common/log.h"
#include "host/convert.h"
#include "host/runtime.h"

namespace portal::host {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct ModuleRuntime::Subscription {
  enum class Kind { own, as, trace };
  SubscriptionId id = 0;
  Kind kind = Kind::own;
  std::string pattern;      // own, as: the pattern; trace: the filter
  bool debug = false;       // trace: body dumps
  Credentials credentials;  // as, trace: sent again when a new router attaches
  EventCallback on_event;
  bool issued = false;           // the router heard of it (subs_mu_)
  SubscribeDone pending_done;    // made before the hello: waits for announce() (subs_mu_)
  std::atomic<bool> live{true};  // false once ended: deliveries already posted are dropped
};

namespace {

// A bound on forgotten_: enough for every delivery that can be in flight to a module.
constexpr std::size_t kMaxForgotten = 4096;

std::string without_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

// --- declared events ------------------------------------------------------------------------

Status ModuleRuntime::declare_event(EventSpec spec) {
  if (Status valid = validate_event_path(spec.path); !valid) return valid;
  // The router accepts a module's events only under its own name (COMPAT.md 1.8).
  if (spec.path.rfind("/events/" + opts_.module_name + "/", 0) != 0)
    return make_error(status::forbidden, "a module declares events under /events/" + opts_.module_name + "/");
  if (stopping_.load()) return make_error(status::unavailable, "module is stopping");
  pb::Envelope env;
  bool announce = false;
  {
    std::unique_lock lock(paths_mu_);
    if (events_.find(spec.path) != events_.end())
      return make_error(status::conflict, spec.path + " is already declared by this module");
    announce = announced_.load();
    if (announce) to_pb(spec, *env.mutable_declare_event()->mutable_spec());
    std::string key = spec.path;
    events_.emplace(std::move(key), std::move(spec));
  }
  if (announce) uplink_.send(std::move(env));
  return {};
}

Status ModuleRuntime::undeclare_event(std::string_view path) {
  bool announce = false;
  {
    std::unique_lock lock(paths_mu_);
    auto it = events_.find(path);
    if (it == events_.end()) return make_error(status::not_found, std::string(path) + " is not declared");
    events_.erase(it);
    announce = announced_.load();
  }
  if (announce) {
    pb::Envelope env;
    env.mutable_undeclare_event()->set_path(std::string(path));
    uplink_.send(std::move(env));
  }
  return {};
}

// --- emit -------------------------------------------------------------------------------------

void ModuleRuntime::emit(std::string_view path, std::string body) {
  if (!started_.load() || stopping_.load()) {
    log::debug(log_topic_, "emit " + std::string(path) + " while not running; dropped");
    return;
  }
  // A request like any other, so the router checks it, traces it and answers it; the answer
  // only ever reaches the log: emit() has no caller to return an error to.
  std::chrono::milliseconds timeout = opts_.call_timeout;
  std::uint64_t id = next_call_id_.fetch_add(1);
  Message msg = make_message(Method::event, std::string(path), std::move(body));
  auto answered = [this, p = std::string(path)](Response r) {
    if (r.ok()) return;
    // 4xx: the module emitted what it may not (its mistake, worth a warning); 5xx: the router
    // restarted or was too slow, which the module cannot help.
    LogLevel level = r.status < 500 ? LogLevel::warn : LogLevel::debug;
    log::write(level, log_topic_,
               "emit " + p + " refused: " + std::to_string(r.status) + " " + without_newline(r.body));
  };
  call_async(id, request_envelope(std::move(msg), id, Clock::now() + timeout), timeout, std::move(answered),
             "an emit answer");
}

// --- subscribing --------------------------------------------------------------------------------

void ModuleRuntime::subscribe(std::string pattern, EventCallback on_event, SubscribeDone done) {
  if (Status valid = validate_pattern(pattern); !valid) return fail_subscribe(std::move(done), valid.error(), pattern);
  auto sub = std::make_shared<Subscription>();
  sub->kind = Subscription::Kind::own;
  sub->pattern = std::move(pattern);
  sub->on_event = std::move(on_event);
  add_subscription(std::move(sub), std::move(done));
}

void ModuleRuntime::subscribe_as(std::string pattern, Credentials credentials, EventCallback on_event,
                                 SubscribeDone done) {
  if (Status valid = validate_pattern(pattern); !valid) return fail_subscribe(std::move(done), valid.error(), pattern);
  auto sub = std::make_shared<Subscription>();
  sub->kind = Subscription::Kind::as;
  sub->pattern = std::move(pattern);
  sub->credentials = std::move(credentials);
  sub->on_event = std::move(on_event);
  add_subscription(std::move(sub), std::move(done));
}

void ModuleRuntime::trace(std::string filter, bool debug, Credentials credentials, EventCallback on_line,
                          SubscribeDone done) {
  auto sub = std::make_shared<Subscription>();
  sub->kind = Subscription::Kind::trace;
  sub->pattern = std::move(filter);
  sub->debug = debug;
  sub->credentials = std::move(credentials);
  sub->on_event = std::move(on_line);
  add_subscription(std::move(sub), std::move(done));
}

void ModuleRuntime::add_subscription(std::shared_ptr<Subscription> sub, SubscribeDone done) {
  if (!sub->on_event)
    return fail_subscribe(std::move(done), make_error(status::bad_request, "no callback"), sub->pattern);
  if (!started_.load() || stopping_.load())
    return fail_subscribe(std::move(done), make_error(status::unavailable, "module is stopping"), sub->pattern);
  std::lock_guard lock(subs_mu_);
  sub->id = next_sub_id_.fetch_add(1);
  subs_.emplace(sub->id, sub);
  if (!subs_live_) {
    sub->pending_done = std::move(done);  // the router does not know us yet: announce() sends it
    return;
  }
  sub->issued = true;
  issue_locked(sub, std::move(done), false);
}

// Sends the subscription to the router; caller holds subs_mu_. `again`: a re-issue after a
// router restart, whose failures are only logged (the module heard "ok" long ago).
void ModuleRuntime::issue_locked(const std::shared_ptr<Subscription>& sub, SubscribeDone done, bool again) {
  std::uint64_t id = next_call_id_.fetch_add(1);
  std::chrono::milliseconds timeout = opts_.call_timeout;
  pb::Envelope env;
  if (sub->kind == Subscription::Kind::own) {
    pb::Subscribe* s = env.mutable_subscribe();
    s->set_id(id);
    s->set_subscription(sub->id);
    s->set_pattern(sub->pattern);
  } else {
    // A client's subscription is a SUB request: the router resolves the credentials and
    // applies the event ACL exactly as for an interface's SUB.
    Message m;
    m.method = Method::sub;
    m.add_header("subscription", std::to_string(sub->id));
    if (sub->kind == Subscription::Kind::as) {
      m.path = sub->pattern == "*" ? "/events/*" : sub->pattern;
    } else {
      m.path = "/core/trace";
      m.add_header("filter", sub->pattern);
      m.add_header("debug", sub->debug ? "1" : "0");
    }
    m.ctx.credentials = sub->credentials;
    env = request_envelope(std::move(m), id, Clock::now() + timeout);
  }
  auto answered = [this, sub, done = std::move(done), again](Response r) {
    subscription_answered(sub, std::move(r), done, again);
  };
  call_async(id, std::move(env), timeout, std::move(answered), "a subscribe callback");
}

// On the event loop, inside run_module_code (complete_call runs it there).
void ModuleRuntime::subscription_answered(const std::shared_ptr<Subscription>& sub, Response resp,
                                          const SubscribeDone& done, bool again) {
  if (resp.ok()) {
    if (done) done(Result<SubscriptionId>(sub->id));
    return;
  }
  Error error = make_error(resp.status, resp.body.empty() ? "subscribe refused" : without_newline(resp.body));
  bool transient = resp.status >= 500;
  // A re-issue the router could not answer stays: the next attach sends it again.
  if (!(again && transient)) {
    std::lock_guard lock(subs_mu_);
    auto it = subs_.find(sub->id);
    if (it != subs_.end() && it->second == sub) {
      subs_.erase(it);
      sub->live.store(false);
      // A deadline or a router restart lost the answer, not necessarily the subscription:
      // make sure the router holds nothing the module no longer knows.
      if (transient) send_unsubscribe_locked(sub->id);
    }
  }
  if (!again && done) {
    done(std::move(error));
    return;
  }
  log::warn(log_topic_, std::string(again ? "re-subscribing " : "subscribing ") + sub->pattern +
                            " failed: " + std::to_string(error.code) + " " + error.message);
}

void ModuleRuntime::fail_subscribe(SubscribeDone done, Error error, const std::string& pattern) {
  if (!done) {  // nobody to return the error to
    log::warn(log_topic_, "subscribing " + pattern + " failed: " + error.message);
    return;
  }
  asio::post(io_, [this, done = std::move(done), error = std::move(error)] {
    if (stopping_.load() || crashed_.load()) return;
    run_module_code([&] { done(error); }, "a subscribe callback");
  });
}

bool ModuleRuntime::unsubscribe(SubscriptionId id) {
  std::lock_guard lock(subs_mu_);
  auto it = subs_.find(id);
  if (it == subs_.end()) return false;
  std::shared_ptr<Subscription> sub = std::move(it->second);
  subs_.erase(it);
  sub->live.store(false);
  if (sub->issued) send_unsubscribe_locked(id);
  return true;
}

void ModuleRuntime::send_unsubscribe_locked(SubscriptionId id) {
  if (forgotten_.size() >= kMaxForgotten) forgotten_.clear();
  forgotten_.insert(id);
  pb::Envelope env;
  env.mutable_unsubscribe()->set_subscription(id);
  uplink_.send(std::move(env));
}

// --- deliveries -----------------------------------------------------------------------------------

void ModuleRuntime::deliver(const pb::EventDelivery& d) {
  if (stopping_.load() || crashed_.load()) return;
  std::shared_ptr<Subscription> sub;
  {
    std::lock_guard lock(subs_mu_);
    auto it = subs_.find(d.subscription());
    if (it == subs_.end()) {
      // Ended here, or never ours: tell the router once, then drop the rest in flight.
      if (!forgotten_.count(d.subscription())) send_unsubscribe_locked(d.subscription());
      return;
    }
    sub = it->second;
  }
  Event ev;
  ev.subscription = d.subscription();
  ev.path = d.path();
  ev.body = d.body();
  ev.trace_id = d.trace_id();
  ev.dropped = d.dropped();
  // One loop thread runs posts in order, so one subscription's deliveries stay in order.
  asio::post(io_, [this, sub = std::move(sub), ev = std::move(ev)] {
    if (!sub->live.load() || stopping_.load() || crashed_.load()) return;
    run_module_code([&] { sub->on_event(ev); }, "an event callback");
  });
}

// --- announcing and stopping ------------------------------------------------------------------------

void ModuleRuntime::announce(int pid) {
  {
    // Held while sending: a path or event added meanwhile waits, so its own envelope
    // follows the hello instead of overtaking it.
    std::shared_lock lock(paths_mu_);
    uplink_.send(hello_locked(pid));
  }
  if (stopping_.load()) return;
  std::lock_guard lock(subs_mu_);
  forgotten_.clear();  // a new router knows nothing: tell it again about strays
  subs_live_ = true;
  for (auto& [id, sub] : subs_) {
    bool again = sub->issued;
    sub->issued = true;
    issue_locked(sub, std::move(sub->pending_done), again);
  }
}

void ModuleRuntime::drop_events_and_subscriptions() {
  std::vector<std::string> events;
  {
    std::unique_lock lock(paths_mu_);
    for (const auto& [path, spec] : events_) events.push_back(path);
    events_.clear();
  }
  if (announced_.load()) {
    for (std::string& path : events) {
      pb::Envelope env;
      env.mutable_undeclare_event()->set_path(std::move(path));
      uplink_.send(std::move(env));
    }
  }
  std::lock_guard lock(subs_mu_);
  for (auto& [id, sub] : subs_) {
    sub->live.store(false);
    if (sub->issued) send_unsubscribe_locked(id);
  }
  subs_.clear();
}

}  // namespace portal::host

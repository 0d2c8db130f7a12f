#include "router/router.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "common/log.h"
#include "common/util.h"
#include "host/convert.h"
#include "ipc/control.h"
#include "router/core_paths.h"
#include "router/inprocess.h"

namespace portal::router {

namespace {

constexpr const char* kTopic = "router";
constexpr int kMaxVisited = 32;  // hops recorded per trace

pb::Response make_response(std::uint32_t status, std::string body) {
  pb::Response r;
  r.set_status(status);
  r.set_body(std::move(body));
  return r;
}

}  // namespace

Router::Router(EventLoop& loop, int control_fd)
    : loop_(loop),
      control_fd_(control_fd),
      auth_(std::make_unique<AuthService>(
          loop, [this](const std::string& path, const std::string& body) { emit(path, body); })),
      epoch_(now_us()) {
  register_core_paths(paths_);
  for (const auto& [path, description] : core_events()) {
    pb::EventSpec spec;
    spec.set_path(path);
    spec.set_description(description);
    spec.add_labels("admin");
    declare_event("core", spec);
  }
}

Router::~Router() { stopping_->store(true); }

void Router::start() {
  loop_.on_signals({SIGTERM, SIGINT}, [this](int sig) {
    log::info(kTopic, "signal " + std::to_string(sig) + ": stopping");
    loop_.stop();
  });
  loop_.watch(control_fd_, [this] { read_control(); });
  loop_.set_may_sleep([this] { return may_sleep(); });
}

// ---------------------------------------------------------------------------------------
// Envelopes from modules

ModuleEntry* Router::find_link_owner(ModuleLink& link) {
  auto it = modules_.find(link.module());
  if (it == modules_.end() || it->second.link.get() != &link) return nullptr;
  return &it->second;
}

void Router::on_envelope(ModuleLink& link, pb::Envelope& env) {
  if (spin_us_ != 0) last_activity_us_ = mono_us();  // only the spin reads it
  switch (env.kind_case()) {
    case pb::Envelope::kRequest: on_request(link, *env.mutable_request()); break;
    case pb::Envelope::kResponse: on_response(link, *env.mutable_response()); break;
    case pb::Envelope::kHello: on_hello(link, env.hello()); break;
    case pb::Envelope::kRegisterPath:
      if (ModuleEntry* m = find_link_owner(link); m && register_path(m->name, env.register_path().spec()))
        m->fresh_paths.insert(env.register_path().spec().path());
      break;
    case pb::Envelope::kUnregisterPath:
      if (ModuleEntry* m = find_link_owner(link)) {
        paths_.remove(env.unregister_path().path(), m->name);
        m->fresh_paths.erase(env.unregister_path().path());
      }
      break;
    case pb::Envelope::kDeclareEvent:
      if (ModuleEntry* m = find_link_owner(link)) {
        declare_event(m->name, env.declare_event().spec());
        m->fresh_paths.insert(env.declare_event().spec().path());
      }
      break;
    case pb::Envelope::kUndeclareEvent:
      if (ModuleEntry* m = find_link_owner(link); m && events_.undeclare(env.undeclare_event().path(), m->name)) {
        paths_.remove(env.undeclare_event().path(), m->name);
        m->fresh_paths.erase(env.undeclare_event().path());
      }
      break;
    case pb::Envelope::kSubscribe: on_own_subscribe(link, env.subscribe()); break;
    case pb::Envelope::kUnsubscribe:
      if (ModuleEntry* m = find_link_owner(link)) events_.unsubscribe(m->name, env.unsubscribe().subscription());
      break;
    default: log::warn(kTopic, link.module() + ": unexpected envelope ignored"); break;
  }
}

void Router::on_hello(ModuleLink& link, const pb::WorkerHello& h) {
  ModuleEntry* m = find_link_owner(link);
  if (!m || h.generation() != link.generation()) return;
  if (h.module() != m->name) {
    on_broken(link, "hello names module '" + h.module() + "'");
    return;
  }
  m->version = h.version();
  m->description = h.description();
  // The paths of the previous incarnation go, except those this one registered already.
  std::vector<pb::PathSpec> kept;
  for (const std::string& p : m->fresh_paths)
    if (const PathEntry* e = paths_.exact(p); e && e->owner == m->name) {
      pb::PathSpec spec;
      spec.set_path(e->path);
      spec.set_description(e->description);
      for (const auto& l : e->labels) spec.add_labels(l);
      spec.set_access(e->access);
      kept.push_back(std::move(spec));
    }
  // Declarations that overtook the hello stay; the rest are the hello's.
  std::vector<pb::EventSpec> kept_events;
  for (const std::string& p : m->fresh_paths)
    if (const events::EventDecl* d = events_.find(p); d && d->owner == m->name) {
      pb::EventSpec spec;
      spec.set_path(d->path);
      spec.set_description(d->description);
      for (const auto& l : d->labels) spec.add_labels(l);
      kept_events.push_back(std::move(spec));
    }
  forget_events(m->name);
  paths_.remove_owner(m->name);
  for (const pb::PathSpec& spec : h.paths()) register_path(m->name, spec);
  for (const pb::PathSpec& spec : kept) register_path(m->name, spec);
  for (const pb::EventSpec& spec : h.events()) declare_event(m->name, spec);
  for (const pb::EventSpec& spec : kept_events) declare_event(m->name, spec);
  m->ready = true;
  push_overrides(*m);
  attach_provider(*m);
  if (h.pid() > 0) m->status.set_pid(h.pid());
  pb::Control c;
  c.mutable_worker_ready()->set_module(m->name);
  c.mutable_worker_ready()->set_generation(link.generation());
  send_control(c);
  log::debug(kTopic, m->name + ": ready with " + std::to_string(h.paths_size()) + " paths");
}

bool Router::register_path(const std::string& owner, const pb::PathSpec& spec) {
  PathEntry e;
  e.path = spec.path();
  e.owner = owner;
  e.labels.assign(spec.labels().begin(), spec.labels().end());
  e.description = spec.description();
  e.access = spec.access();
  if (Status valid = host::validate_path(e.path); !valid) {
    log::warn(kTopic, owner + ": refused a path: " + valid.error().message);
    return false;
  }
  // The core's namespaces are the core's: a module must not answer /auth/login.
  if (is_reserved_path(e.path)) {
    log::warn(kTopic, owner + ": refused " + e.path + " (reserved for the core)");
    return false;
  }
  if (!paths_.add(std::move(e))) {
    log::warn(kTopic, owner + ": path " + spec.path() + " already belongs to another module");
    return false;
  }
  return true;
}

void Router::on_request(ModuleLink& link, pb::Message& msg) {
  if (!find_link_owner(link)) return;
  Origin o;
  o.module = link.module();
  o.generation = link.generation();
  o.id = msg.id();
  route(std::move(msg), std::move(o), link.module());
}

void Router::on_response(ModuleLink& link, pb::Response& resp) {
  auto it = pending_.find(resp.id());
  // A worker answers only what was sent to it.
  if (it == pending_.end() || it->second.target != link.module() ||
      it->second.target_generation != link.generation())
    return;
  Origin origin = std::move(it->second.origin);
  pending_.erase(it);
  if (ModuleEntry* m = find_link_owner(link); m && m->in_flight > 0) --m->in_flight;
  answer(origin, resp);
}

void Router::on_broken(ModuleLink& link, const std::string& why) {
  std::string module = link.module();
  std::uint64_t gen = link.generation();
  log::error(kTopic, module + ": protocol violation on its channel (" + why + "); restarting it");
  pb::Control c;
  c.mutable_kill_worker()->set_module(module);
  c.mutable_kill_worker()->set_generation(gen);
  c.mutable_kill_worker()->set_reason(why);
  send_control(c);
  // Destroy the link outside its own callback.
  loop_.post([this, module, gen] {
    auto it = modules_.find(module);
    if (it != modules_.end() && it->second.link && it->second.link->generation() == gen) detach(it->second);
    flush_dirty();
  });
}

// ---------------------------------------------------------------------------------------
// Routing

bool Router::admit(pb::Message& msg, Origin& origin, const std::string& from_module) {
  const std::uint64_t id = next_id_++;
  ++routed_;
  msg.set_id(id);
  pb::Context* ctx = msg.mutable_ctx();
  ctx->clear_auth();  // a worker never decides identity
  ctx->set_source_module(from_module);
  pb::Trace* t = ctx->mutable_trace();
  if (t->trace_id() == 0) t->set_trace_id(id);
  t->set_hops(t->hops() + 1);
  t->set_timestamp_us(now_us());
  if (t->visited_size() < kMaxVisited) {
    pb::Hop* hop = t->add_visited();
    hop->set_module(from_module);
    hop->set_timestamp_us(t->timestamp_us());
  }
  if (!draining_) return true;
  answer_error(origin, 503, "Shutting down\n");
  return false;
}

void Router::route_as(pb::Message&& msg, Origin origin, Caller caller) {
  if (!admit(msg, origin, "core")) return;
  msg.mutable_ctx()->clear_credentials();
  msg.mutable_ctx()->clear_asserted();
  dispatch(std::move(msg), std::move(origin), std::move(caller));
}

void Router::route(pb::Message&& msg, Origin origin, const std::string& from_module) {
  if (!admit(msg, origin, from_module)) return;
  pb::Context* ctx = msg.mutable_ctx();

  // An identity a capable module established (federation) stands in for credentials.
  if (ctx->has_asserted()) {
    std::string asserted = ctx->asserted().user();
    ctx->clear_asserted();
    if (!asserted.empty()) {
      if (!may_assert_identity(from_module)) {
        log::debug(kTopic, from_module + ": asserted an identity without the capability; ignored");
      } else {
        Caller c = auth_->caller_for(asserted);
        if (c.user.empty()) log::warn(kTopic, from_module + ": asserted unknown user '" + asserted + "'; anonymous");
        c.asserted_by = from_module;
        return dispatch(std::move(msg), std::move(origin), std::move(c));
      }
    }
  }
  const pb::Credentials& cred = ctx->credentials();
  if (cred.api_key().empty() && cred.token().empty() && cred.username().empty() && cred.password().empty()) {
    // A local client known only by its UNIX user: the interface's own peer_users map decides.
    Caller c;
    if (cred.has_peer_uid())
      if (auto user = peer_user(from_module, cred.peer_uid())) c = auth_->caller_for(*user);
    return dispatch(std::move(msg), std::move(origin), std::move(c));
  }
  if (!auth_->is_open()) return answer_error(origin, 503, "Identity store unavailable\n");

  // Resolution is immediate except for a password check, which runs off the loop.
  struct Held {
    pb::Message msg;
    Origin origin;
    bool async = false;
  };
  auto held = std::make_shared<Held>(Held{std::move(msg), std::move(origin)});
  std::string source = from_module + ":" + held->msg.ctx().credentials().source();
  auth_->resolve(held->msg.ctx().credentials(), source, [this, held](Resolution r) {
    if (r.status != 200)
      answer_error(held->origin, static_cast<std::uint32_t>(r.status), std::move(r.body));
    else
      dispatch(std::move(held->msg), std::move(held->origin), std::move(r.caller));
    if (held->async) flush_dirty();
  });
  held->async = true;
}

void Router::dispatch(pb::Message&& msg, Origin origin, Caller caller) {
  pb::Context* ctx = msg.mutable_ctx();
  if (!caller.user.empty()) {
    pb::Identity* auth = ctx->mutable_auth();
    auth->set_user(caller.user);
    for (const auto& l : caller.labels) auth->add_labels(l);
    auth->set_asserted_by(caller.asserted_by);
  }
  const std::string& path = msg.path();
  const std::uint64_t trace_id = ctx->trace().trace_id();
  if (events_.tracing()) {
    events::TraceRequest tr;
    tr.trace_id = trace_id;
    int m = msg.method();
    tr.method = (m >= 1 && m <= 7) ? static_cast<events::TraceMethod>(m - 1) : events::TraceMethod::Get;
    tr.source_module = ctx->source_module();
    tr.path = path;
    tr.user = caller.user;
    tr.body = msg.body();
    events_.trace_request(tr);
    origin.trace_id = trace_id;
    origin.trace_path = path;
  }
  switch (msg.method()) {
    case pb::EVENT: return on_event_method(msg, origin);
    case pb::SUB:
    case pb::UNSUB:
      if (path.rfind("/events/", 0) == 0 || path == "/core/trace") return on_subscription(msg, origin, caller);
      break;
    default: break;
  }

  const PathEntry* e = paths_.exact(path);
  if (!e && is_core_path(path)) return handle_core(*this, caller, msg, std::move(origin));
  if (!e) e = paths_.route(path);
  if (!e) return answer_error(origin, 404, {});
  if (!path_allows(caller, *e)) {
    log::info(kTopic, "ACCESS DENIED " + path + " user:" + (caller.user.empty() ? "-" : caller.user));
    return answer_error(origin, 403, {});
  }
  if (e->owner == "core") return handle_core(*this, caller, msg, std::move(origin));
  ctx->clear_credentials();  // secrets stop at the router

  auto mit = modules_.find(e->owner);
  if (mit == modules_.end() || !mit->second.ready || !mit->second.link)
    return answer_error(origin, 503, "Module '" + e->owner + "' is not available\n");
  ModuleEntry& m = mit->second;
  if (m.link->backlog() >= m.queue_limit)
    return answer_error(origin, 503, "Module '" + m.name + "' is overloaded (queue full)\n");

  const std::uint64_t id = msg.id();
  std::uint32_t timeout_ms = m.timeout_ms;
  if (msg.timeout_ms() != 0 && msg.timeout_ms() < timeout_ms) timeout_ms = msg.timeout_ms();
  Pending p;
  p.origin = std::move(origin);
  p.target = m.name;
  p.target_generation = m.link->generation();
  p.deadline_us = mono_us() + std::uint64_t{timeout_ms} * 1000;
  p.trace_id = trace_id;
  arm_deadline(p.deadline_us);
  deadlines_.emplace(p.deadline_us, id);
  pending_.emplace(id, std::move(p));

  out_.Clear();
  out_.mutable_request()->Swap(&msg);
  if (!m.link->deliver(out_)) {
    Origin o = std::move(pending_[id].origin);
    pending_.erase(id);
    return answer_error(o, 413, "Message too large for a channel\n");
  }
  mark_dirty(m.link.get());
  ++m.msgs;
  ++m.in_flight;
}

void Router::answer(Origin& origin, pb::Response& resp) {
  if (origin.trace_id != 0 && events_.tracing()) {
    events::TraceResponse tr;
    tr.trace_id = origin.trace_id;
    tr.status = static_cast<int>(resp.status());
    tr.path = origin.trace_path;
    tr.body = resp.body();
    events_.trace_response(tr);
  }
  if (origin.callback) {
    origin.callback(resp);
    return;
  }
  auto it = modules_.find(origin.module);
  if (it == modules_.end() || !it->second.link || it->second.link->generation() != origin.generation) return;
  resp.set_id(origin.id);
  out_.Clear();
  out_.mutable_response()->Swap(&resp);
  if (!it->second.link->deliver(out_)) {
    out_.Clear();
    out_.mutable_response()->set_id(origin.id);
    out_.mutable_response()->set_status(500);
    out_.mutable_response()->set_body("Response too large for a channel\n");
    it->second.link->deliver(out_);
  }
  mark_dirty(it->second.link.get());
}

void Router::answer_error(Origin& origin, std::uint32_t status, std::string body) {
  pb::Response r = make_response(status, std::move(body));
  answer(origin, r);
}

void Router::flush_dirty() {
  if (!events_.waiting().empty()) drain_events();
  while (!dirty_.empty()) {
    auto batch = std::move(dirty_);
    dirty_.clear();
    for (ModuleLink* l : batch) l->flush();
  }
}

}  // namespace portal::router

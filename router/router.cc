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

// A decimal setting within [lo, hi]; nullopt when absent or not a number in range.
std::optional<std::uint32_t> u32_setting(const google::protobuf::Map<std::string, std::string>& values,
                                         const std::string& key, unsigned long lo, unsigned long hi) {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  char* end = nullptr;
  unsigned long v = std::strtoul(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || v < lo || v > hi) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

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
// Control socket

void Router::read_control() {
  for (;;) {
    pb::Control c;
    std::vector<ipc::UniqueFd> fds;
    std::string why;
    ipc::ControlRead r = ipc::recv_control(control_fd_, c, fds, &why);
    if (r == ipc::ControlRead::again) break;
    if (r == ipc::ControlRead::closed || r == ipc::ControlRead::error) {
      log::error(kTopic, r == ipc::ControlRead::closed ? "supervisor went away; exiting"
                                                       : "control socket: " + why + "; exiting");
      loop_.unwatch(control_fd_);
      loop_.stop();
      return;
    }
    on_control(c, fds);
  }
  flush_dirty();
}

// Before the loop blocks every link arms its doorbell; a link that found data instead
// processed it, and the loop goes round again.
bool Router::may_sleep() {
  bool idle = true;
  for (auto& [name, m] : modules_)
    if (m.link && !m.link->arm()) idle = false;
  flush_dirty();
  return idle;
}

bool Router::probe_links() {
  bool found = false;
  for (auto& [name, m] : modules_)
    if (m.link && m.link->probe()) found = true;
  if (found) flush_dirty();
  return found;
}

void Router::send_control(const pb::Control& c) {
  Status s = ipc::send_control(control_fd_, c);
  if (!s) log::error(kTopic, s.error().message);
}

void Router::on_control(pb::Control& c, std::vector<ipc::UniqueFd>& fds) {
  switch (c.kind_case()) {
    case pb::Control::kConfigure: {
      instance_ = c.configure().instance();
      config_ = {c.configure().values().begin(), c.configure().values().end()};
      if (c.configure().default_timeout_ms()) default_timeout_ms_ = c.configure().default_timeout_ms();
      configure_spin(c.configure());
      LogLevel level;
      auto it = config_.find("core.log_level");
      if (it != config_.end() && log::parse_level(it->second, level)) log::set_level(level);
      if (!auth_->is_open()) open_identity();
      pb::Control ready;
      ready.mutable_router_ready()->set_pid(::getpid());
      send_control(ready);
      break;
    }
    case pb::Control::kAttachWorker: on_attach(c.attach_worker(), fds); break;
    case pb::Control::kWorkerGone: on_worker_gone(c.worker_gone()); break;
    case pb::Control::kStatusUpdate: {
      const pb::ModuleStatus& s = c.status_update().status();
      ModuleEntry& m = modules_[s.name()];
      m.name = s.name();
      m.status = s;
      break;
    }
    case pb::Control::kForget: on_forget(c.forget().module()); break;
    case pb::Control::kLoadInprocess: on_load_inprocess(c.load_inprocess()); break;
    case pb::Control::kActionResult: {
      auto it = actions_.find(c.action_result().id());
      if (it == actions_.end()) break;
      auto done = std::move(it->second);
      actions_.erase(it);
      done(c.action_result().status(), c.action_result().text());
      break;
    }
    case pb::Control::kShutdown:
      draining_ = true;
      log::info(kTopic, "draining: new requests are refused");
      break;
    default: log::warn(kTopic, "unexpected control message ignored"); break;
  }
}

void Router::on_attach(const pb::AttachWorker& a, std::vector<ipc::UniqueFd>& fds) {
  const std::string& name = a.status().name();
  std::unique_ptr<ipc::Endpoint> ep;
  if (a.transport() == "uds") {
    if (fds.size() != 1) return log::error(kTopic, name + ": uds attach without a socket");
    ep = std::make_unique<ipc::SocketEndpoint>(std::move(fds[0]));
  } else {
    if (fds.size() != 3) return log::error(kTopic, name + ": attach without its three fds");
    auto ch = ipc::Channel::map(fds[0].get(), ipc::Side::router, a.status().generation());
    if (!ch) return log::error(kTopic, name + ": " + ch.error().message);
    ep = std::make_unique<ipc::RingEndpoint>(std::move(*ch), std::move(fds[1]), std::move(fds[2]));
  }
  ModuleEntry& m = modules_[name];
  if (m.link) detach(m);
  m.name = name;
  m.status = a.status();
  m.fresh_paths.clear();
  m.timeout_ms = a.timeout_ms() ? a.timeout_ms() : default_timeout_ms_;
  m.queue_limit = a.queue_limit() ? a.queue_limit() : kDefaultQueueLimit;
  auto link = std::make_unique<WorkerLink>(
      loop_, name, a.status().generation(), std::move(ep),
      [this](ModuleLink& l, pb::Envelope& env) { on_envelope(l, env); },
      [this](ModuleLink& l, const std::string& why) { on_broken(l, why); }, [this] { flush_dirty(); });
  link->start();
  pb::Envelope hello_please;
  hello_please.mutable_attach()->set_router_epoch(epoch_);
  link->deliver(hello_please);
  mark_dirty(link.get());
  m.link = std::move(link);
  log::debug(kTopic, name + ": attached generation " + std::to_string(a.status().generation()));
}

void Router::on_worker_gone(const pb::WorkerGone& g) {
  auto it = modules_.find(g.module());
  if (it == modules_.end()) return;
  ModuleEntry& m = it->second;
  if (g.has_status()) m.status = g.status();
  if (m.link && m.link->generation() == g.generation()) detach(m);
}

void Router::on_forget(const std::string& module) {
  auto it = modules_.find(module);
  if (it == modules_.end()) return;
  detach(it->second);
  paths_.remove_owner(module);
  modules_.erase(it);
}

void Router::detach(ModuleEntry& m) {
  if (!m.link) return;
  std::uint64_t gen = m.link->generation();
  dirty_.erase(m.link.get());
  m.link.reset();
  m.ready = false;
  forget_events(m.name);
  fail_in_flight(m.name, gen, "Module '" + m.name + "' went away while handling the request\n");
}

void Router::fail_in_flight(const std::string& module, std::uint64_t generation, const std::string& why) {
  std::vector<Origin> origins;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.target == module && it->second.target_generation == generation) {
      origins.push_back(std::move(it->second.origin));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  auto m = modules_.find(module);
  if (m != modules_.end()) m->second.in_flight = 0;
  for (Origin& o : origins) answer_error(o, 503, why);
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

// ---------------------------------------------------------------------------------------
// Deadlines

void Router::arm_deadline(std::uint64_t deadline_us) {
  if (deadline_armed_us_ != 0 && deadline_armed_us_ <= deadline_us) return;
  deadline_armed_us_ = deadline_us;
  loop_.set_timer(deadline_us, [this] {
    deadline_armed_us_ = 0;
    on_deadline();
  });
}

void Router::on_deadline() {
  const std::uint64_t now = mono_us();
  while (!deadlines_.empty() && deadlines_.top().first <= now) {
    auto [when, id] = deadlines_.top();
    deadlines_.pop();
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.deadline_us != when) continue;
    Pending p = std::move(it->second);
    pending_.erase(it);
    auto m = modules_.find(p.target);
    if (m != modules_.end() && m->second.in_flight > 0) --m->second.in_flight;
    log::warn(kTopic, "deadline passed: " + p.path + " (module " + p.target + ")");
    answer_error(p.origin, 504, "Gateway timeout: module '" + p.target + "' did not answer in time\n");
  }
  if (next_housekeeping_us_ != 0 && now >= next_housekeeping_us_) housekeeping();
  if (!deadlines_.empty()) arm_deadline(deadlines_.top().first);
  if (next_housekeeping_us_ != 0) arm_deadline(next_housekeeping_us_);
  flush_dirty();
}

// Adaptive spin ([core] router_spin_us): after activity, or while requests are in flight,
// look at the rings for up to that long before blocking. A worker's answer or a client's
// next request then costs no doorbell write and no wake-up of the router.
void Router::configure_spin(const pb::Configure& cfg) {
  spin_us_ = 0;
  if (cfg.values().count("core.router_spin_us")) {
    if (auto v = u32_setting(cfg.values(), "core.router_spin_us", 0, 1000)) spin_us_ = *v;
    else log::warn(kTopic, "core.router_spin_us: expected 0..1000 microseconds; spinning stays off");
  }
  loop_.set_spin(
      std::chrono::microseconds(spin_us_),
      [this] { return !pending_.empty() || mono_us() - last_activity_us_ < spin_us_; },
      [this] { return probe_links(); });
}

// ---------------------------------------------------------------------------------------
// Operator actions and in-process modules

void Router::module_action(const std::string& module, const std::string& action,
                           std::function<void(std::uint32_t, std::string)> done) {
  std::uint64_t id = next_action_++;
  actions_[id] = std::move(done);
  pb::Control c;
  c.mutable_module_action()->set_id(id);
  c.mutable_module_action()->set_module(module);
  c.mutable_module_action()->set_action(action);
  send_control(c);
}

void Router::on_load_inprocess(const pb::LoadInprocess& l) {
  const std::string& name = l.status().name();
  ModuleEntry& m = modules_[name];
  if (m.link) detach(m);
  m.name = name;
  m.status = l.status();
  m.fresh_paths.clear();
  m.status.set_isolation("inprocess");
  m.timeout_ms = default_timeout_ms_;
  m.queue_limit = kDefaultQueueLimit;
  // The module's own limits travel in its settings (validated by portald).
  if (auto v = u32_setting(l.config(), "timeout_ms", 1, 0xffffffffUL)) m.timeout_ms = *v;
  if (auto v = u32_setting(l.config(), "queue_limit", 1, 0xffffffffUL)) m.queue_limit = *v;
  auto report_crash = [this, name](const std::string& why) {
    auto it = modules_.find(name);
    if (it == modules_.end()) return;
    it->second.ready = false;  // its paths answer 503 until `reload`
    it->second.status.set_state("failed");
    it->second.status.set_last_exit(why);
    log::error(kTopic, name + ": in-process module crashed (" + why + "); disabled");
    pb::Control c;
    c.mutable_inprocess_crashed()->set_module(name);
    c.mutable_inprocess_crashed()->set_reason(why);
    send_control(c);
  };
  auto mod = InprocessModule::create(
      loop_, l, [this](ModuleLink& link, pb::Envelope& env) {
        on_envelope(link, env);
        flush_dirty();
      },
      report_crash);
  if (!mod) {
    report_crash(mod.error().message);
    return;
  }
  m.status.set_state("inprocess");
  m.link = std::move(*mod);
}

}  // namespace portal::router

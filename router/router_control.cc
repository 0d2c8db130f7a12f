// Router: the control socket to portald, deadlines, the adaptive spin, operator actions and
// in-process modules. (Routing is in router.cc, events and the store in router_events.cc.)
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "common/log.h"
#include "common/util.h"
#include "ipc/control.h"
#include "router/inprocess.h"
#include "router/router.h"

namespace portal::router {

namespace {

constexpr const char* kTopic = "router";

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

}  // namespace

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

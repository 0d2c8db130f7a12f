#include "supervisor/module_unit.h"

#include <signal.h>

#include "common/log.h"
#include "common/util.h"

namespace portal::supervisor {

namespace {

constexpr std::string_view kTopic = "portald";

}  // namespace

struct ModuleUnit::Incarnation {
  std::unique_ptr<ChildProcess> child;
  WorkerChannel channel;  // our copies, kept for a restarted router
  std::uint64_t generation = 0;
  std::uint64_t spawned_mono_us = 0;
  std::string kill_reason;
};

const char* to_string(ModuleState s) {
  switch (s) {
    case ModuleState::starting: return "starting";
    case ModuleState::running: return "running";
    case ModuleState::restarting: return "restarting";
    case ModuleState::stopped: return "stopped";
    case ModuleState::failed: return "failed";
    case ModuleState::inprocess: return "inprocess";
  }
  return "?";
}

ModuleUnit::ModuleUnit(UnitHost& host, ModuleSettings settings)
    : host_(host),
      settings_(std::move(settings)),
      policy_(settings_.restart, settings_.limits),
      restart_timer_(host.io()),
      kill_timer_(host.io()),
      start_timer_(host.io()) {}

// A live incarnation is killed and reaped by ~ChildProcess; timers cancel themselves.
ModuleUnit::~ModuleUnit() = default;

pid_t ModuleUnit::pid() const { return inc_ ? inc_->child->pid() : 0; }

bool ModuleUnit::settled() const { return state_ != ModuleState::starting && state_ != ModuleState::restarting; }

pb::ModuleStatus ModuleUnit::status() const {
  pb::ModuleStatus s;
  s.set_name(settings_.name);
  s.set_state(to_string(state_));
  s.set_pid(pid());
  s.set_restarts(restarts_);
  if (inc_ || state_ == ModuleState::inprocess) s.set_started_at_us(started_at_us_);
  s.set_last_exit(last_exit_);
  s.set_generation(generation_);
  s.set_isolation(to_string(settings_.isolation));
  s.set_threads(settings_.threads);
  return s;
}

void ModuleUnit::start(ReadyDone done) {
  if (done) ready_waiters_.push_back(std::move(done));
  if (stopping_) {
    stop_waiters_.push_back([this] { start(); });
    return;
  }
  if (state_ == ModuleState::running || state_ == ModuleState::inprocess) return finish_ready(true);
  if (alive()) return;  // starting: the waiter runs on worker_ready
  restart_timer_.cancel();
  restart_pending_ = false;
  policy_.reset();
  spawn();
}

void ModuleUnit::stop(Done done) {
  if (done) stop_waiters_.push_back(std::move(done));
  if (restart_pending_) {
    restart_timer_.cancel();
    restart_pending_ = false;
  }
  if (!alive()) {
    if (state_ == ModuleState::inprocess) {
      pb::Control c;
      c.mutable_forget()->set_module(settings_.name);
      host_.send_control(c);
    }
    if (state_ != ModuleState::stopped) {
      set_state(ModuleState::stopped);
      send_status();
    }
    return finish_stop();
  }
  if (stopping_) return;
  stopping_ = true;
  log::info(kTopic, "module " + settings_.name + ": stopping pid " + std::to_string(pid()));
  inc_->child->signal(SIGTERM);
  kill_timer_.expires_after(std::chrono::milliseconds(host_.core().drain_ms));
  kill_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !inc_) return;
    log::warn(kTopic, "module " + settings_.name + ": still running after drain, sending SIGKILL");
    inc_->child->signal(SIGKILL);
  });
}

void ModuleUnit::restart(ReadyDone done) {
  if (done) ready_waiters_.push_back(std::move(done));
  if (alive()) {
    restart_after_stop_ = true;
    stop([this] {
      policy_.reset();
      spawn();
    });
    return;
  }
  if (state_ == ModuleState::inprocess) {
    pb::Control c;
    c.mutable_forget()->set_module(settings_.name);
    host_.send_control(c);
    state_ = ModuleState::stopped;
  }
  restart_timer_.cancel();
  restart_pending_ = false;
  policy_.reset();
  spawn();
}

void ModuleUnit::kill_now() {
  if (inc_) inc_->child->signal(SIGKILL);
}

void ModuleUnit::spawn() {
  if (alive() || host_.shutting_down()) return;
  if (settings_.library.empty()) return fail(settings_.library_error);
  if (ever_started_) ++restarts_;
  ever_started_ = true;
  if (settings_.isolation == Isolation::inprocess) return spawn_inprocess();
  generation_ = host_.next_generation();
  WorkerLaunch launch{host_.programs().worker, &settings_, host_.core().instance, host_.worker_log_level(),
                      generation_};
  auto worker = spawn_worker(launch);
  Result<std::unique_ptr<ChildProcess>> child = make_error(500, "");
  if (worker) {
    child = ChildProcess::watch(host_.io(), worker->pid);
    if (!child) ::kill(worker->pid, SIGKILL);  // unwatched: reaped by nobody, so kill it at least
  }
  if (!worker || !child) {
    last_exit_ = "spawn failed: " + (worker ? child.error().message : worker.error().message);
    log::error(kTopic, "module " + settings_.name + ": " + last_exit_);
    return apply(policy_.exited(ExitKind::failure, Clock::now()), 0);
  }
  inc_ = std::make_unique<Incarnation>();
  inc_->child = std::move(*child);
  inc_->channel = std::move(worker->channel);
  inc_->generation = generation_;
  inc_->spawned_mono_us = mono_us();
  started_at_us_ = now_us();
  policy_.started(Clock::now());
  set_state(ModuleState::starting);
  send_attach();
  inc_->child->on_exit([this](ExitStatus st) { on_exit(st); });
  arm_start_timeout();
  log::info(kTopic, "module " + settings_.name + ": started pid " + std::to_string(pid()) + " generation " +
                        std::to_string(generation_));
}

void ModuleUnit::arm_start_timeout() {
  const std::uint64_t gen = generation_;
  start_timer_.expires_after(std::chrono::milliseconds(settings_.start_timeout_ms));
  start_timer_.async_wait([this, gen](boost::system::error_code ec) {
    if (ec || !inc_ || inc_->generation != gen || state_ != ModuleState::starting) return;
    inc_->kill_reason = "not ready within " + std::to_string(settings_.start_timeout_ms) + " ms";
    log::warn(kTopic, "module " + settings_.name + ": pid " + std::to_string(pid()) + " " + inc_->kill_reason +
                          "; killing it");
    inc_->child->signal(SIGKILL);
  });
}

void ModuleUnit::spawn_inprocess() {
  started_at_us_ = now_us();
  policy_.started(Clock::now());
  state_ = ModuleState::inprocess;
  pb::Control c;
  auto* load = c.mutable_load_inprocess();
  *load->mutable_status() = status();
  load->set_library(settings_.library);
  for (const auto& [k, v] : settings_.values) (*load->mutable_config())[k] = v;
  host_.send_control(c);
  log::info(kTopic, "module " + settings_.name + ": loaded in the router (isolation = inprocess)");
  set_state(ModuleState::inprocess);
  finish_ready(true);
}

void ModuleUnit::on_exit(ExitStatus st) {
  std::unique_ptr<Incarnation> inc = std::move(inc_);  // its channel fds close on return
  kill_timer_.cancel();
  start_timer_.cancel();
  last_exit_ = st.describe();
  if (!inc->kill_reason.empty()) last_exit_ += " (" + inc->kill_reason + ")";
  if (stopping_ || host_.shutting_down()) {
    stopping_ = false;
    bool again = restart_after_stop_ && !host_.shutting_down();
    restart_after_stop_ = false;
    log::info(kTopic, "module " + settings_.name + ": stopped (" + last_exit_ + ")");
    set_state(again ? ModuleState::restarting : ModuleState::stopped);
    send_gone(inc->generation);
    return finish_stop();
  }
  log::warn(kTopic,
            "module " + settings_.name + ": pid " + std::to_string(inc->child->pid()) + " exited: " + last_exit_);
  apply(policy_.exited(st.kind(), Clock::now()), inc->generation);
}

void ModuleUnit::apply(const Decision& d, std::uint64_t gone_generation) {
  auto tell_router = [&] { gone_generation ? send_gone(gone_generation) : send_status(); };
  switch (d.verdict) {
    case Verdict::restart:
      set_state(ModuleState::restarting);
      tell_router();
      if (d.delay.count() == 0) return spawn();
      log::info(kTopic, "module " + settings_.name + ": restarting in " + std::to_string(d.delay.count()) + " ms");
      return schedule_restart(d.delay);
    case Verdict::stop:
      set_state(ModuleState::stopped);
      tell_router();
      return finish_ready(false);
    case Verdict::fail:
      if (!d.reason.empty() && last_exit_.find(d.reason) == std::string::npos) last_exit_ += "; " + d.reason;
      log::error(kTopic, "module " + settings_.name + ": failed (" + last_exit_ + "); start it to retry");
      set_state(ModuleState::failed);
      tell_router();
      return finish_ready(false);
  }
}

void ModuleUnit::schedule_restart(std::chrono::milliseconds delay) {
  restart_pending_ = true;
  restart_timer_.expires_after(delay);
  restart_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    restart_pending_ = false;
    spawn();
  });
}

void ModuleUnit::worker_ready(std::uint64_t generation) {
  if (!inc_ || generation != inc_->generation || state_ != ModuleState::starting) return;
  start_timer_.cancel();
  auto ms = (mono_us() - inc_->spawned_mono_us) / 1000;
  log::info(kTopic, "module " + settings_.name + ": running (pid " + std::to_string(pid()) + ", ready in " +
                        std::to_string(ms) + " ms)");
  set_state(ModuleState::running);
  send_status();
  finish_ready(true);
}

void ModuleUnit::kill_worker(std::uint64_t generation, const std::string& reason) {
  if (!inc_ || generation != inc_->generation) return;
  log::warn(kTopic, "module " + settings_.name + ": router asked to kill pid " + std::to_string(pid()) + ": " + reason);
  inc_->kill_reason = "killed by router: " + reason;
  inc_->child->signal(SIGKILL);
}

void ModuleUnit::inprocess_crashed(const std::string& reason) {
  if (state_ != ModuleState::inprocess) return;
  last_exit_ = "crashed in the router" + (reason.empty() ? std::string() : ": " + reason);
  log::error(kTopic, "module " + settings_.name + ": " + last_exit_ + "; disabled until reloaded");
  set_state(ModuleState::failed);
  send_status();
}

void ModuleUnit::replay() {
  if (inc_) return send_attach();
  if (state_ == ModuleState::inprocess) {
    pb::Control c;
    auto* load = c.mutable_load_inprocess();
    *load->mutable_status() = status();
    load->set_library(settings_.library);
    for (const auto& [k, v] : settings_.values) (*load->mutable_config())[k] = v;
    return host_.send_control(c);
  }
  if (ever_started_ || state_ == ModuleState::failed) send_status();
}

void ModuleUnit::replace_settings(ModuleSettings settings) {
  settings_ = std::move(settings);
  policy_.set_mode(settings_.restart);
  policy_.set_limits(settings_.limits);
}

void ModuleUnit::set_state(ModuleState s) {
  state_ = s;
  host_.unit_changed();
}

void ModuleUnit::fail(const std::string& why) {
  last_exit_ = why;
  log::error(kTopic, why);
  set_state(ModuleState::failed);
  send_status();
  finish_ready(false);
}

void ModuleUnit::send_status() {
  pb::Control c;
  *c.mutable_status_update()->mutable_status() = status();
  host_.send_control(c);
}

void ModuleUnit::send_gone(std::uint64_t generation) {
  pb::Control c;
  auto* gone = c.mutable_worker_gone();
  gone->set_module(settings_.name);
  gone->set_generation(generation);
  *gone->mutable_status() = status();
  host_.send_control(c);
}

void ModuleUnit::send_attach() {
  pb::Control c;
  auto* a = c.mutable_attach_worker();
  *a->mutable_status() = status();
  a->set_transport(to_string(settings_.transport));
  a->set_ring_bytes(settings_.ring_bytes);
  a->set_timeout_ms(settings_.timeout_ms);
  a->set_queue_limit(settings_.queue_limit);
  host_.send_control(c, inc_->channel.router_fds());
}

void ModuleUnit::finish_ready(bool ok) {
  auto waiters = std::move(ready_waiters_);
  ready_waiters_.clear();
  for (auto& w : waiters) w(ok);
}

void ModuleUnit::finish_stop() {
  auto waiters = std::move(stop_waiters_);
  stop_waiters_.clear();
  for (auto& w : waiters) w();
  // Nobody started it again: a pending start/restart answer is "no".
  if (!alive() && !restart_pending_ && (state_ == ModuleState::stopped || state_ == ModuleState::failed))
    finish_ready(false);
}

}  // namespace portal::supervisor

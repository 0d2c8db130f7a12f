// The router process: spawning and respawning it, and the control socket to it.
#include <signal.h>
#include <sys/socket.h>

#include "common/log.h"
#include "ipc/control.h"
#include "supervisor/spawner.h"
#include "supervisor/supervisor.h"

namespace portal::supervisor {

namespace {

constexpr std::string_view kTopic = "portald";

}  // namespace

Status Supervisor::spawn_router() {
  auto spawned = supervisor::spawn_router(programs_.router);
  if (!spawned) return spawned.error();
  auto child = ChildProcess::watch(io_, spawned->pid);
  if (!child) {
    ::kill(spawned->pid, SIGKILL);
    return child.error();
  }
  router_ = std::move(*child);
  ++router_epoch_;
  router_ready_ = false;
  control_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, spawned->control.release());
  router_policy_.started(Clock::now());
  router_->on_exit([this](ExitStatus st) { on_router_exit(st); });
  log::info(kTopic, "router started, pid " + std::to_string(router_->pid()));
  read_control(router_epoch_);
  // Everything a new router must know; the socket keeps the order.
  send_configure();
  for (auto& u : units_) u->replay();
  return {};
}

void Supervisor::respawn_router() {
  if (shutting_down_) return;
  if (auto st = spawn_router(); !st) {
    log::error(kTopic, "cannot start the router: " + st.error().message);
    auto d = router_policy_.exited(ExitKind::failure, Clock::now());
    router_timer_.expires_after(std::max(d.delay, router_policy_.limits().backoff_initial));
    router_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) respawn_router();
    });
  }
}

void Supervisor::on_router_exit(ExitStatus st) {
  std::unique_ptr<ChildProcess> gone = std::move(router_);
  control_.reset();  // cancels the pending read; its handler sees a stale epoch
  router_ready_ = false;
  if (shutting_down_) {
    log::info(kTopic, "router stopped (" + st.describe() + ")");
    return maybe_finish_shutdown();
  }
  if (st.kind() == ExitKind::fatal_config) {
    log::error(kTopic, "router: " + st.describe() + "; stopping");
    exit_code_ = kExitRouterFatal;
    return begin_shutdown();
  }
  auto d = router_policy_.exited(st.kind(), Clock::now());
  log::warn(kTopic, "router pid " + std::to_string(gone->pid()) + " exited: " + st.describe() + "; restarting" +
                        (d.delay.count() ? " in " + std::to_string(d.delay.count()) + " ms" : ""));
  sd(notifier_.status("Router restarting"));
  if (d.delay.count() == 0) return respawn_router();
  router_timer_.expires_after(d.delay);
  router_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) respawn_router();
  });
}

void Supervisor::read_control(std::uint64_t epoch) {
  control_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [this, epoch](boost::system::error_code ec) {
    if (ec || epoch != router_epoch_ || !control_) return;
    if (drain_control(epoch)) read_control(epoch);
  });
}

// Handles every queued message; false when the socket is done (the pidfd reports the exit).
bool Supervisor::drain_control(std::uint64_t epoch) {
  for (;;) {
    pb::Control msg;
    std::vector<ipc::UniqueFd> fds;
    std::string why;
    switch (ipc::recv_control(control_->native_handle(), msg, fds, &why)) {
      case ipc::ControlRead::message:
        on_control(msg);
        if (epoch != router_epoch_ || !control_) return false;
        continue;
      case ipc::ControlRead::again: return true;
      case ipc::ControlRead::closed: log::debug(kTopic, "router closed the control socket"); return false;
      case ipc::ControlRead::error:
        log::warn(kTopic, "control socket: " + why);
        if (why.find("too large") != std::string::npos) {
          char byte;  // a SOCK_SEQPACKET read of 1 byte discards the whole datagram
          if (::recv(control_->native_handle(), &byte, 1, MSG_DONTWAIT) < 0) return false;
          continue;
        }
        if (why.find("parse") != std::string::npos || why.find("truncated") != std::string::npos) continue;
        return false;
    }
  }
}

void Supervisor::send_control(const pb::Control& msg, const std::vector<int>& fds) {
  if (!control_) return;  // no router right now: replayed when it is back
  if (auto st = ipc::send_control(control_->native_handle(), msg, fds); !st)
    log::debug(kTopic, "control send failed: " + st.error().message);
}

void Supervisor::send_configure() {
  pb::Control c;
  auto* cfg = c.mutable_configure();
  cfg->set_instance(settings_.core.instance);
  for (const auto& [k, v] : settings_.flat) (*cfg->mutable_values())[k] = v;
  if (force_debug_) (*cfg->mutable_values())["core.log_level"] = "debug";
  cfg->set_default_timeout_ms(settings_.core.request_timeout_ms);
  send_control(c);
}

void Supervisor::on_control(const pb::Control& msg) {
  switch (msg.kind_case()) {
    case pb::Control::kRouterReady: {
      // It answers every configure; only the first answer of an incarnation is news.
      std::string text = "router ready (pid " + std::to_string(msg.router_ready().pid()) + ")";
      router_ready_ ? log::debug(kTopic, text) : log::info(kTopic, text);
      router_ready_ = true;
      return check_ready();
    }
    case pb::Control::kWorkerReady:
      if (auto* u = find_unit(msg.worker_ready().module())) u->worker_ready(msg.worker_ready().generation());
      return;
    case pb::Control::kModuleAction: return on_module_action(msg.module_action());
    case pb::Control::kKillWorker:
      if (auto* u = find_unit(msg.kill_worker().module()))
        u->kill_worker(msg.kill_worker().generation(), msg.kill_worker().reason());
      return;
    case pb::Control::kInprocessCrashed:
      if (auto* u = find_unit(msg.inprocess_crashed().module())) u->inprocess_crashed(msg.inprocess_crashed().reason());
      return;
    default: log::debug(kTopic, "ignoring unexpected control message " + std::to_string(msg.kind_case()));
  }
}

void Supervisor::on_module_action(const pb::ModuleAction& a) {
  const std::string name = a.module(), action = a.action();
  const std::uint64_t id = a.id();
  ModuleUnit* u = find_unit(name);
  if (!u || u->removing) return answer_action(id, 404, "Module '" + name + "' not found\n");
  log::info(kTopic, "module " + name + ": operator action '" + action + "'");
  auto reply = [this, id, name, action](bool ok) {
    answer_action(id, ok ? 200 : 500, "Module '" + name + "': " + action + (ok ? " OK\n" : " failed\n"));
  };
  if (shutting_down_) return reply(false);
  if (action == "restart" || action == "reload")
    u->restart(reply);
  else if (action == "stop" || action == "unload")
    u->stop([reply] { reply(true); });
  else if (action == "start" || action == "load")
    u->start(reply);
  else
    answer_action(id, 400, "Module '" + name + "': unknown action '" + action + "' (start, stop, restart)\n");
}

void Supervisor::answer_action(std::uint64_t id, std::uint32_t status, const std::string& text) {
  pb::Control c;
  auto* r = c.mutable_action_result();
  r->set_id(id);
  r->set_status(status);
  r->set_text(text);
  send_control(c);
}

}  // namespace portal::supervisor

// One configured module: its current worker incarnation (or its in-process load), its
// restart policy and the state the router shows in /core/modules.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "portal.pb.h"
#include "supervisor/child.h"
#include "supervisor/locate.h"
#include "supervisor/restart_policy.h"
#include "supervisor/settings.h"
#include "supervisor/spawner.h"

namespace portal::supervisor {

enum class ModuleState { starting, running, restarting, stopped, failed, inprocess };
const char* to_string(ModuleState s);

// What a unit needs from the supervisor.
class UnitHost {
 public:
  virtual ~UnitHost() = default;
  virtual boost::asio::io_context& io() = 0;
  virtual void send_control(const pb::Control& msg, const std::vector<int>& fds = {}) = 0;
  virtual std::uint64_t next_generation() = 0;
  virtual const CoreSettings& core() const = 0;
  virtual const Programs& programs() const = 0;
  virtual const std::string& worker_log_level() const = 0;
  virtual bool shutting_down() const = 0;
  // A unit's state changed (readiness, systemd STATUS=).
  virtual void unit_changed() = 0;
};

class ModuleUnit {
 public:
  using Done = std::function<void()>;
  using ReadyDone = std::function<void(bool ok)>;  // true: running; false: failed/stopped

  ModuleUnit(UnitHost& host, ModuleSettings settings);
  ~ModuleUnit();
  ModuleUnit(const ModuleUnit&) = delete;
  ModuleUnit& operator=(const ModuleUnit&) = delete;

  const std::string& name() const { return settings_.name; }
  const ModuleSettings& settings() const { return settings_; }
  ModuleState state() const { return state_; }
  const std::string& last_exit() const { return last_exit_; }
  std::uint32_t restarts() const { return restarts_; }
  pid_t pid() const;
  std::uint64_t generation() const { return generation_; }
  bool alive() const { return inc_ != nullptr; }
  // Running, or stopped/failed for good: what READY=1 waits for.
  bool settled() const;
  pb::ModuleStatus status() const;

  // Operator start (also the initial start): forgets the crash history. `done` when running
  // or given up.
  void start(ReadyDone done = {});
  // SIGTERM, then SIGKILL after [core] drain_ms. `done` once no incarnation is left.
  void stop(Done done = {});
  // stop, then start with the current settings.
  void restart(ReadyDone done = {});
  // SIGKILL the current incarnation now (shutdown after a second signal).
  void kill_now();

  // Messages from the router.
  void worker_ready(std::uint64_t generation);
  void kill_worker(std::uint64_t generation, const std::string& reason);
  void inprocess_crashed(const std::string& reason);
  // A (new) router: hand it this module's incarnation and state again.
  void replay();

  // New settings take effect at the next spawn (SIGHUP restarts changed modules).
  void replace_settings(ModuleSettings settings);
  // Removed from the config; the supervisor forgets it once stopped.
  bool removing = false;

 private:
  struct Incarnation;

  void spawn();
  void spawn_inprocess();
  void arm_start_timeout();
  void on_exit(ExitStatus status);
  // Carries out the restart policy's verdict; `gone_generation` is the incarnation that
  // ended (0 when none was spawned).
  void apply(const Decision& d, std::uint64_t gone_generation);
  void schedule_restart(std::chrono::milliseconds delay);
  void set_state(ModuleState s);
  void fail(const std::string& why);
  void send_status();
  void send_gone(std::uint64_t generation);
  void send_attach();
  void finish_ready(bool ok);
  void finish_stop();

  UnitHost& host_;
  ModuleSettings settings_;
  ModuleState state_ = ModuleState::stopped;
  RestartPolicy policy_;
  std::unique_ptr<Incarnation> inc_;
  std::uint32_t restarts_ = 0;
  bool ever_started_ = false;
  std::uint64_t generation_ = 0;
  std::uint64_t started_at_us_ = 0;
  std::string last_exit_;
  bool stopping_ = false;
  bool restart_after_stop_ = false;  // the stop in progress is the first half of a restart
  boost::asio::steady_timer restart_timer_;
  bool restart_pending_ = false;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer start_timer_;  // a worker that never says hello is killed
  std::vector<Done> stop_waiters_;
  std::vector<ReadyDone> ready_waiters_;
};

}  // namespace portal::supervisor

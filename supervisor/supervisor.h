// portald's event loop (docs/ARCHITECTURE.md "portald"): the router, one ModuleUnit per
// configured module, the control socket, signals and systemd notifications, all on one
// single-threaded io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "supervisor/child.h"
#include "supervisor/locate.h"
#include "supervisor/module_unit.h"
#include "supervisor/restart_policy.h"
#include "supervisor/sd_notify.h"
#include "supervisor/settings.h"

namespace portal::supervisor {

// portald's exit code when the router says its configuration can never work.
inline constexpr int kExitRouterFatal = kExitFatalConfig;

class Supervisor final : public UnitHost {
 public:
  Supervisor(boost::asio::io_context& io, Settings settings, Programs programs, SearchRoots roots, SdNotifier notifier,
             bool force_debug);
  ~Supervisor() override;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Creates the instance directories, spawns the router and the modules. An error here is
  // a fatal start-up error; afterwards everything happens in io.run().
  Status start();
  int exit_code() const { return exit_code_; }

  // UnitHost
  boost::asio::io_context& io() override { return io_; }
  void send_control(const pb::Control& msg, const std::vector<int>& fds = {}) override;
  std::uint64_t next_generation() override { return next_generation_++; }
  const CoreSettings& core() const override { return settings_.core; }
  const Programs& programs() const override { return programs_; }
  const std::string& worker_log_level() const override { return worker_log_level_; }
  bool shutting_down() const override { return shutting_down_; }
  void unit_changed() override;

 private:
  // The router process and its control socket (router_link.cc).
  Status spawn_router();
  void respawn_router();
  void on_router_exit(ExitStatus st);
  void read_control(std::uint64_t epoch);
  bool drain_control(std::uint64_t epoch);
  void send_configure();
  void on_control(const pb::Control& msg);
  void on_module_action(const pb::ModuleAction& action);
  void answer_action(std::uint64_t id, std::uint32_t status, const std::string& text);

  // SIGHUP (reload.cc).
  void reload();
  void apply_diff(const ConfigDiff& diff);
  void remove_unit(ModuleUnit* unit);
  void add_or_revive(const ModuleSettings& m);

  // Lifecycle (supervisor.cc).
  Status make_dirs() const;  // data_dir 0700, log_dir and run_dir 0750, when missing
  void wait_signals();
  void on_signal(int sig);
  void begin_shutdown();
  void maybe_finish_shutdown();
  void apply_log_level();
  void check_ready();
  void sd(const Status& st);
  std::string summary() const;
  ModuleUnit* find_unit(const std::string& name);

  boost::asio::io_context& io_;
  Settings settings_;
  Programs programs_;
  SearchRoots roots_;
  SdNotifier notifier_;
  bool force_debug_;
  std::string worker_log_level_;
  boost::asio::signal_set signals_;
  std::vector<std::unique_ptr<ModuleUnit>> units_;
  std::uint64_t next_generation_ = 1;

  std::unique_ptr<ChildProcess> router_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> control_;
  std::uint64_t router_epoch_ = 0;
  RestartPolicy router_policy_{RestartMode::always, router_restart_limits()};
  boost::asio::steady_timer router_timer_;
  bool router_ready_ = false;

  bool sd_failed_ = false;
  bool ready_sent_ = false;
  std::string last_status_;
  bool shutting_down_ = false;
  bool finished_ = false;
  std::size_t stops_pending_ = 0;
  bool router_term_sent_ = false;
  int exit_code_ = 0;
};

}  // namespace portal::supervisor

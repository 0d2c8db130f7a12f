#include "supervisor/supervisor.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "common/log.h"

namespace portal::supervisor {

namespace {

constexpr std::string_view kTopic = "portald";

// mkdir -p; only directories it creates get `mode`.
Status ensure_dir(const std::string& path, mode_t mode) {
  for (std::size_t pos = 1; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST)
      return make_error(500, "cannot create " + part + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return make_error(500, path + ": not a directory");
  return {};
}

}  // namespace

Supervisor::Supervisor(boost::asio::io_context& io, Settings settings, Programs programs, SearchRoots roots,
                       SdNotifier notifier, bool force_debug)
    : io_(io),
      settings_(std::move(settings)),
      programs_(std::move(programs)),
      roots_(std::move(roots)),
      notifier_(std::move(notifier)),
      force_debug_(force_debug),
      signals_(io, SIGTERM, SIGINT, SIGHUP),
      router_timer_(io) {}

Supervisor::~Supervisor() {
  // Whatever is still alive is killed and reaped: workers first, then the router.
  units_.clear();
  control_.reset();
  router_.reset();
}

Status Supervisor::make_dirs() const {
  const CoreSettings& c = settings_.core;
  for (auto [dir, mode] : {std::pair{c.data_dir, 0700}, {c.log_dir, 0750}, {c.run_dir, 0750}})
    if (auto st = ensure_dir(dir, static_cast<mode_t>(mode)); !st) return st;
  return {};
}

Status Supervisor::start() {
  const CoreSettings& c = settings_.core;
  if (auto st = make_dirs(); !st) return st;
  apply_log_level();
  wait_signals();
  sd(notifier_.status("Starting"));
  log::info(kTopic, "instance " + c.instance + ": starting (config " + c.config_file +
                        (c.config_text.empty() ? ")" : ", embedded)"));
  if (auto st = spawn_router(); !st) return make_error(500, "cannot start the router: " + st.error().message);
  for (const auto& m : settings_.modules) units_.push_back(std::make_unique<ModuleUnit>(*this, m));
  for (auto& u : units_) u->start();
  check_ready();
  return {};
}

void Supervisor::apply_log_level() {
  LogLevel level = force_debug_ ? LogLevel::debug : settings_.core.level;
  log::set_level(level);
  worker_log_level_ = force_debug_ ? "debug" : settings_.core.log_level;
}

void Supervisor::wait_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    on_signal(sig);
    if (!finished_) wait_signals();
  });
}

void Supervisor::on_signal(int sig) {
  if (sig == SIGHUP) return reload();
  log::info(kTopic, std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
  begin_shutdown();
}

void Supervisor::begin_shutdown() {
  if (shutting_down_) {
    log::warn(kTopic, "second stop request: killing every process now");
    for (auto& u : units_) u->kill_now();
    if (router_) router_->signal(SIGKILL);
    return;
  }
  shutting_down_ = true;
  log::info(kTopic, "shutting down (drain " + std::to_string(settings_.core.drain_ms) + " ms)");
  sd(notifier_.stopping());
  router_timer_.cancel();
  pb::Control c;
  c.mutable_shutdown()->set_drain_ms(settings_.core.drain_ms);
  send_control(c);
  stops_pending_ = units_.size();
  for (auto& u : units_)
    u->stop([this] {
      --stops_pending_;
      maybe_finish_shutdown();
    });
  maybe_finish_shutdown();
}

void Supervisor::maybe_finish_shutdown() {
  if (!shutting_down_ || stops_pending_ > 0 || finished_) return;
  if (router_ && !router_->exited()) {
    if (router_term_sent_) return;
    router_term_sent_ = true;
    router_->signal(SIGTERM);
    router_timer_.expires_after(std::chrono::milliseconds(settings_.core.drain_ms));
    router_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || !router_) return;
      log::warn(kTopic, "router still running after drain, sending SIGKILL");
      router_->signal(SIGKILL);
    });
    return;
  }
  finished_ = true;
  router_timer_.cancel();
  signals_.cancel();
  log::info(kTopic, "stopped");
  io_.stop();
}

void Supervisor::unit_changed() { check_ready(); }

void Supervisor::sd(const Status& st) {
  // Logged once: a missing notify socket would otherwise repeat on every state change.
  if (!st && !sd_failed_) log::warn(kTopic, "systemd notify: " + st.error().message);
  sd_failed_ = sd_failed_ || !st;
}

void Supervisor::check_ready() {
  if (shutting_down_) return;
  if (!ready_sent_) {
    if (!router_ready_) return;
    for (const auto& u : units_)
      if (!u->settled()) return;
    ready_sent_ = true;
    last_status_ = summary();
    log::info(kTopic, "ready: " + last_status_);
    sd(notifier_.ready(last_status_));
    return;
  }
  std::string s = summary();
  if (s == last_status_) return;
  last_status_ = s;
  sd(notifier_.status(s));
}

std::string Supervisor::summary() const {
  std::map<std::string, int> counts;
  std::size_t n = 0;
  for (const auto& u : units_) {
    if (u->removing) continue;
    ++n;
    ++counts[to_string(u->state())];
  }
  std::string out = std::to_string(n) + (n == 1 ? " module" : " modules");
  std::string parts;
  for (const char* state : {"running", "inprocess", "starting", "restarting", "failed", "stopped"})
    if (auto it = counts.find(state); it != counts.end())
      parts += (parts.empty() ? "" : ", ") + std::to_string(it->second) + " " + state;
  if (!router_ready_) parts += std::string(parts.empty() ? "" : ", ") + "router starting";
  return parts.empty() ? out : out + " (" + parts + ")";
}

ModuleUnit* Supervisor::find_unit(const std::string& name) {
  for (auto& u : units_)
    if (u->name() == name) return u.get();
  return nullptr;
}

}  // namespace portal::supervisor

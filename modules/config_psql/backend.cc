#include "backend.h"

#include <algorithm>

#include "schema.h"

namespace portal::config_psql {

namespace {

ConnectParams params_for(const Settings& s, const std::string& dbname) {
  return {s.host, std::to_string(s.port), s.user, s.password, dbname, s.connect_timeout};
}

}  // namespace

Backend::Backend(Settings settings, Core& core)
    : settings_(std::move(settings)), core_(core), backoff_(settings_.retry_initial), rng_(std::random_device{}()) {}

void Backend::start() {
  if (!try_connect()) schedule_retry();
}

void Backend::stop() {
  {
    std::lock_guard lock(state_mu_);
    stopping_ = true;
    if (retry_timer_ != 0) core_.remove_timer(retry_timer_);
    retry_timer_ = 0;
  }
  std::lock_guard lock(conn_mu_);
  conn_.reset();
  std::lock_guard state(state_mu_);
  connected_ = false;
  reason_ = "unloaded";
}

// COMPAT.md 1.9: first the maintenance database `postgres`, to create ours if missing.
Result<ConnPtr> Backend::open_database() {
  {
    Result<ConnPtr> maintenance = connect(params_for(settings_, "postgres"));
    if (!maintenance) return maintenance.error();
    if (Status s = ensure_database(maintenance->get(), settings_.database); !s) return s.error();
  }
  Result<ConnPtr> conn = connect(params_for(settings_, settings_.database));
  if (!conn) return conn.error();
  if (Status s = migrate(conn->get()); !s) return make_error(s.error().code, "schema: " + s.error().message);
  return conn;
}

bool Backend::try_connect() {
  // Slow (network, CREATE DATABASE, migrations): done without holding conn_mu_, so that
  // requests meanwhile get their 503 at once instead of waiting.
  Result<ConnPtr> conn = open_database();
  std::lock_guard lock(conn_mu_);
  std::lock_guard state(state_mu_);
  if (stopping_) return true;
  if (!conn) {
    bool changed = reason_ != conn.error().message;
    reason_ = conn.error().message;
    if (changed) core_.log(LogLevel::warn, "PostgreSQL unavailable: " + reason_);
    return false;
  }
  conn_ = std::move(*conn);
  connected_ = true;
  reason_.clear();
  backoff_ = settings_.retry_initial;
  core_.log(LogLevel::info, "connected to PostgreSQL at " + settings_.host + ":" + std::to_string(settings_.port) +
                                ", database " + settings_.database);
  return true;
}

void Backend::lose(const std::string& reason) {
  conn_.reset();
  {
    std::lock_guard state(state_mu_);
    if (stopping_) return;
    connected_ = false;
    reason_ = reason;
  }
  core_.log(LogLevel::warn, "lost the PostgreSQL connection: " + reason);
  schedule_retry();
}

// One timer at a time; the delay doubles from retry_initial_ms to retry_max_ms, and each
// one is drawn from [3/4, 5/4] of it (capped at the max) so that many modules restarted
// together do not reconnect in step.
void Backend::schedule_retry() {
  std::lock_guard state(state_mu_);
  if (stopping_ || retry_timer_ != 0 || connected_) return;
  auto base = std::min(backoff_, settings_.retry_max);
  std::uniform_int_distribution<long long> jitter(base.count() * 3 / 4, base.count() * 5 / 4);
  auto delay = std::clamp(std::chrono::milliseconds(jitter(rng_)), std::chrono::milliseconds(1), settings_.retry_max);
  backoff_ = std::min(backoff_ * 2, settings_.retry_max);
  std::weak_ptr<Backend> weak = weak_from_this();
  retry_timer_ = core_.add_timer(
      delay,
      [weak] {
        if (auto self = weak.lock()) self->on_retry_timer();
      },
      false);
}

void Backend::on_retry_timer() {
  {
    std::lock_guard state(state_mu_);
    retry_timer_ = 0;
    if (stopping_ || connected_) return;
  }
  if (!try_connect()) schedule_retry();
}

Response Backend::run(const std::function<Response(PGconn*)>& fn) {
  std::lock_guard lock(conn_mu_);
  if (!conn_) {
    std::lock_guard state(state_mu_);
    return respond(status::unavailable, "PostgreSQL unavailable: " + reason_ + "\n");
  }
  Response r = fn(conn_.get());
  if (r.status == kConnectionLost || PQstatus(conn_.get()) == CONNECTION_BAD) {
    std::string reason = one_line(PQerrorMessage(conn_.get()));
    if (reason.empty()) reason = "connection lost";
    lose(reason);
    return respond(status::unavailable, "PostgreSQL unavailable: " + reason + "\n");
  }
  return r;
}

bool Backend::connected() const {
  std::lock_guard state(state_mu_);
  return connected_;
}

std::string Backend::status_text() const {
  std::lock_guard state(state_mu_);
  std::string text = "PostgreSQL Storage Backend\nHost: " + settings_.host + ":" + std::to_string(settings_.port) +
                     "\nDatabase: " + settings_.database + "\n";
  if (connected_) return text + "Status: connected\n";
  text += stopping_ ? "Status: disconnected (unloaded)\n" : "Status: disconnected (retrying)\n";
  return text + "Error: " + reason_ + "\n";
}

}  // namespace portal::config_psql

// The one connection to PostgreSQL and its life: connect (creating the database and the
// schema), notice when it breaks, reconnect in the background with backoff.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "pg.h"
#include "portal/module.h"
#include "settings.h"

namespace portal::config_psql {

class Backend : public std::enable_shared_from_this<Backend> {
 public:
  Backend(Settings settings, Core& core);

  // Tries to connect once; on failure schedules the retries. Never fails: a server that is
  // down, or refuses the credentials, is a state shown in the status, not a load error.
  void start();
  // Cancels the retries and closes the connection (unload).
  void stop();

  // Runs `fn` with the connection, one caller at a time. Without a connection, answers
  // 503 "PostgreSQL unavailable: <reason>". When `fn` answers 503 (exec() reported
  // kConnectionLost) the connection is dropped and the retries begin.
  Response run(const std::function<Response(PGconn*)>& fn);

  // The text of /config_psql/resources/status (never the password).
  std::string status_text() const;
  bool connected() const;

 private:
  // Connects, creates the database if missing, migrates; installs the connection.
  bool try_connect();
  Result<ConnPtr> open_database();
  void lose(const std::string& reason);  // with conn_mu_ held
  void schedule_retry();
  void on_retry_timer();

  const Settings settings_;
  Core& core_;

  std::mutex conn_mu_;  // one query at a time on conn_; taken before state_mu_
  ConnPtr conn_;

  mutable std::mutex state_mu_;
  bool connected_ = false;
  bool stopping_ = false;
  std::string reason_ = "not connected yet";
  std::chrono::milliseconds backoff_;
  TimerId retry_timer_ = 0;
  std::minstd_rand rng_;
};

}  // namespace portal::config_psql

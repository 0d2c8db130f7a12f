// A private PostgreSQL server for the tests: its own temporary folder, its data directory
// made by initdb, a UNIX socket in that folder and no TCP at all. Nothing needs to run
// beforehand. As root, initdb and postgres (which refuse root) run as the `postgres`
// system user.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace portal::config_psql::testing {

class PgServer {
 public:
  static constexpr const char* kUser = "portal";  // the superuser initdb creates (trust auth)
  static constexpr int kPort = 5432;               // only names the socket file in our folder

  PgServer() = default;
  ~PgServer();  // stops the server, removes the folder
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Empty when a server can run here; otherwise why not (the tests skip with it).
  static std::string unavailable_reason();

  // Makes the folder and the data directory. False with `error` set on failure.
  bool init(std::string& error);
  // Starts postgres on the data directory and waits until it accepts connections.
  bool start(std::string& error);
  // SIGINT (fast shutdown: sessions are ended, what was committed is kept), then waits.
  void stop();
  bool running() const { return pid_ > 0; }

  const std::string& socket_dir() const { return dir_; }
  std::string log() const;  // what initdb and postgres printed

 private:
  pid_t spawn(const std::vector<std::string>& argv);
  bool wait_ready(std::string& error);

  std::string bin_;
  std::string dir_;
  pid_t pid_ = -1;
  bool drop_to_postgres_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace portal::config_psql::testing

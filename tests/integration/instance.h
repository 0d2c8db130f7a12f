// A real Portal instance for integration tests: a temporary folder, a portal.conf, and
// `portald -c` running as a child process; requests go through the ctl socket.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl_client.h"

namespace portal::itest {

std::string build_root();
std::string module_library(const std::string& name);

struct ModuleConf {
  std::string name;
  std::map<std::string, std::string> settings;
};

// The root user every test instance starts with (data/users/root.conf, written before
// portald starts; the plain-text password is hashed by the router at load).
inline constexpr const char* kRootPassword = "root-pass-for-tests";
inline constexpr const char* kRootKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
Credentials root_credentials();
Credentials key_credentials(std::string key);

class Instance {
 public:
  // Writes the config (ctl is always loaded first) and starts portald; waits until every
  // module is ready or `ready_timeout` passes.
  explicit Instance(std::vector<ModuleConf> modules);
  // Extra lines for the [core] section; call before start().
  void set_core_extra(std::string lines);
  // Whole sections appended to portal.conf (e.g. "[peer:hub]\nhost = ...\n").
  void set_extra_sections(std::string text);
  ~Instance();

  bool start(std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));
  // SIGTERM; returns the exit status (waitpid form) or nullopt on timeout.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void kill_tree();  // SIGKILL portald and every process of the instance

  Result<Response> get(const std::string& path, Headers headers = {}, std::string body = {});
  Result<Response> call(const std::string& path, Headers headers = {}, std::string body = {});
  Result<Response> request(Method m, const std::string& path, Headers headers = {}, std::string body = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(20), Credentials cred = {});
  // As root (API key).
  Result<Response> admin(Method m, const std::string& path, Headers headers = {}, std::string body = {});
  Result<Response> as(const Credentials& cred, Method m, const std::string& path, Headers headers = {},
                      std::string body = {});
  tools::CtlClient& client();
  void reconnect();

  // /core/modules as JSON; the object of one module (null when unknown).
  nlohmann::json modules();
  nlohmann::json module(const std::string& name);
  int module_pid(const std::string& name);
  // Waits until `pred(module json)` holds.
  bool wait_module(const std::string& name, const std::function<bool(const nlohmann::json&)>& pred,
                   std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool wait_ready(const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  pid_t router_pid() const;  // the portal-router child of portald
  pid_t portald_pid() const { return pid_; }

  void rewrite_config(std::vector<ModuleConf> modules);
  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  const std::string& config_path() const { return config_; }
  const std::string& socket() const { return socket_; }
  std::string log() const;  // portald's stderr so far

 private:
  void write_config();
  std::string dir_, config_, socket_, log_path_;
  std::vector<ModuleConf> modules_;
  std::string extra_;
  std::string sections_;
  pid_t pid_ = -1;
  std::unique_ptr<tools::CtlClient> client_;
};

// Runs a shell-free command line of ours (a fixed binary and arguments from the test) and
// returns (exit code, stdout).
std::pair<int, std::string> run_command(const std::string& cmd);

// Children of a process (from /proc/<pid>/task/*/children).
std::vector<pid_t> children_of(pid_t pid);
bool process_alive(pid_t pid);
std::string process_name(pid_t pid);

}  // namespace portal::itest

// portal-bench plumbing: starting a real portal-router and portal-worker without portald,
// attaching the bench itself to the router as a client "worker", CPU accounting.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ipc/endpoint.h"
#include "portal.pb.h"

namespace portal::bench {

// Build tree or installed location of a Portal binary / module library.
std::string find_binary(const std::string& name);  // "portal-router", "portal-worker", "portald"
std::string find_module(const std::string& name);

// CPU time (ns) a process has used so far, all threads (from /proc/<pid>/task/*/schedstat).
std::uint64_t cpu_ns(pid_t pid);

struct Child {
  pid_t pid = -1;
  void kill_and_wait();
};

// One client endpoint talking to a router over a real channel.
class Client {
 public:
  explicit Client(std::unique_ptr<ipc::Endpoint> ep) : ep_(std::move(ep)) {}
  void send(const std::string& path, const std::string& body, std::uint64_t id, bool stamp = false);
  void flush() {
    ep_->flush();
    ep_->notify();
  }
  // Blocks (sleep protocol) until one response arrives; answers RouterAttach with hello.
  pb::Response next_response();
  void hello();

 private:
  std::unique_ptr<ipc::Endpoint> ep_;
  pb::Envelope env_;
  std::string buf_;
};

// A router with one echo worker and the bench attached as a client.
class RoutedSetup {
 public:
  // transport: "ring" or "uds".
  static std::unique_ptr<RoutedSetup> start(const std::string& transport, int router_spin_us, int worker_spin_us,
                                            std::string* error);
  ~RoutedSetup();
  Client& client() { return *client_; }
  std::vector<pid_t> pids() const { return {router_.pid, worker_.pid}; }

 private:
  bool wait_ready(const std::string& module, std::string* error);
  int control_ = -1;
  Child router_;
  Child worker_;
  std::unique_ptr<Client> client_;
};

}  // namespace portal::bench

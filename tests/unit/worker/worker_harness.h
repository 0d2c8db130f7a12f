// Plays the supervisor and the router for one real portal-worker process: creates the
// channel and the bootstrap memfd, spawns the worker, and talks to it over the ring (or a
// socket, transport "uds").
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "ipc/channel.h"
#include "ipc/endpoint.h"
#include "portal.pb.h"
#include "portal_build_config.h"

namespace portal::test {

inline std::string build_root() {
  const char* env = std::getenv("PORTAL_BUILD_ROOT");
  return env ? env : PORTAL_BUILD_ROOT;
}
inline std::string worker_binary() { return build_root() + "/modsdk/worker/portal-worker"; }
inline std::string module_library(const std::string& name) {
  return build_root() + "/modules/" + name + "/mod_" + name + ".so";
}

struct WorkerSpec {
  std::string module = "hello";
  std::string library;  // default: the build tree's mod_<module>.so
  std::map<std::string, std::string> config;
  unsigned threads = 1;
  std::string transport = "ring";
  std::uint32_t ring_bytes = 1u << 16;
  std::uint64_t generation = 3;
  std::uint32_t call_timeout_ms = 0;
  std::uint32_t busy_poll_us = 0;
};

class WorkerProcess {
 public:
  using Clock = std::chrono::steady_clock;

  explicit WorkerProcess(const WorkerSpec& spec) {
    pb::WorkerBootstrap boot;
    boot.set_module(spec.module);
    boot.set_library(spec.library.empty() ? module_library(spec.module) : spec.library);
    boot.set_generation(spec.generation);
    boot.set_threads(spec.threads);
    boot.set_transport(spec.transport);
    boot.set_ring_bytes(spec.ring_bytes);
    boot.set_log_level("warn");
    boot.set_instance("test");
    boot.set_call_timeout_ms(spec.call_timeout_ms);
    boot.set_busy_poll_us(spec.busy_poll_us);
    for (const auto& [k, v] : spec.config) (*boot.mutable_config())[k] = v;

    std::vector<int> child_fds;
    if (spec.transport == "uds") {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
      ::fcntl(sv[0], F_SETFL, O_NONBLOCK);
      ep_ = std::make_unique<ipc::SocketEndpoint>(ipc::UniqueFd(sv[0]));
      wait_fd_ = sv[0];
      child_socket_.reset(sv[1]);
      boot.set_channel_fd(sv[1]);
      child_fds = {sv[1]};
    } else {
      auto fds = ipc::create_channel("worker-test", spec.ring_bytes, spec.generation);
      if (!fds) std::abort();
      fds_ = std::move(*fds);
      auto ch = ipc::Channel::map(fds_.memfd.get(), ipc::Side::router, spec.generation);
      if (!ch) std::abort();
      wait_fd_ = fds_.router_bell.get();
      ep_ = std::make_unique<ipc::RingEndpoint>(std::move(*ch), ipc::UniqueFd(::dup(fds_.router_bell.get())),
                                                ipc::UniqueFd(::dup(fds_.worker_bell.get())));
      boot.set_channel_fd(fds_.memfd.get());
      boot.set_wake_fd(fds_.worker_bell.get());
      boot.set_notify_fd(fds_.router_bell.get());
      child_fds = {fds_.memfd.get(), fds_.worker_bell.get(), fds_.router_bell.get()};
    }
    ipc::UniqueFd boot_fd(::memfd_create("bootstrap", MFD_CLOEXEC));
    std::string data = boot.SerializeAsString();
    if (::write(boot_fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) std::abort();
    child_fds.push_back(boot_fd.get());
    spawn(child_fds, boot_fd.get());
  }

  ~WorkerProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }

  pid_t pid() const { return pid_; }

  void send(const pb::Envelope& env) {
    ep_->send(env.SerializeAsString());
    ep_->notify();
  }

  // The next envelope from the worker, or nothing after `timeout`.
  std::optional<pb::Envelope> receive(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto until = Clock::now() + timeout;
    for (;;) {
      std::span<const std::byte> rec;
      std::string why;
      ipc::ReadStatus st = ep_->receive(rec, &why);
      if (st == ipc::ReadStatus::record) {
        pb::Envelope env;
        bool ok = env.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
        ep_->release();
        if (!ok) return std::nullopt;
        return env;
      }
      if (st == ipc::ReadStatus::corrupt) return std::nullopt;
      ep_->flush();
      ep_->notify();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      if (ep_->prepare_sleep()) {
        short events = POLLIN;
        if (ep_->queued() && dynamic_cast<ipc::SocketEndpoint*>(ep_.get())) events |= POLLOUT;
        pollfd p{wait_fd_, events, 0};
        ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50)));
        ep_->woke();
      }
    }
  }

  // Skips envelopes until one satisfies `pred`.
  template <class Pred>
  std::optional<pb::Envelope> receive_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      auto env = receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
      if (!env) return std::nullopt;
      if (pred(*env)) return env;
    }
    return std::nullopt;
  }

  // The worker's wait status once it exited, or nothing after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                               struct rusage* usage = nullptr) {
    auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      int st;
      struct rusage ru;
      pid_t r = ::wait4(pid_, &st, WNOHANG, &ru);
      if (r == pid_ && usage) *usage = ru;
      if (r == pid_) {
        exited_ = true;
        return st;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return std::nullopt;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  ipc::Endpoint& endpoint() { return *ep_; }

 private:
  void spawn(const std::vector<int>& inherit, int boot_fd) {
    std::string bin = worker_binary();
    std::string fd_arg = std::to_string(boot_fd);
    pid_ = ::fork();
    if (pid_ == 0) {
      for (int fd : inherit) ::fcntl(fd, F_SETFD, 0);
      const char* argv[] = {"portal-worker", "--bootstrap-fd", fd_arg.c_str(), nullptr};
      ::execv(bin.c_str(), const_cast<char* const*>(argv));
      ::_exit(127);
    }
  }

  ipc::ChannelFds fds_;
  ipc::UniqueFd child_socket_;
  std::unique_ptr<ipc::Endpoint> ep_;
  int wait_fd_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
};

inline pb::Envelope request(std::uint64_t id, const std::string& path, const std::string& body = {},
                            std::map<std::string, std::string> headers = {}) {
  pb::Envelope env;
  pb::Message* m = env.mutable_request();
  m->set_id(id);
  m->set_path(path);
  m->set_method(pb::CALL);
  m->set_body(body);
  for (const auto& [k, v] : headers) {
    pb::Header* h = m->add_headers();
    h->set_key(k);
    h->set_value(v);
  }
  m->mutable_ctx()->mutable_trace()->set_trace_id(id);
  return env;
}

inline bool is_response(const pb::Envelope& e, std::uint64_t id) {
  return e.has_response() && e.response().id() == id;
}

}  // namespace portal::test

#include "tools/bench/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "ipc/control.h"
#include "tools/common/locate.h"

namespace portal::bench {

namespace {

// fork + exec with `fds` placed at 3, 4, ... in the child.
pid_t spawn(const std::string& bin, const std::vector<std::string>& args, const std::vector<int>& fds) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::vector<int> moved;
  for (int fd : fds) moved.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 64));
  for (std::size_t i = 0; i < moved.size(); ++i) ::dup2(moved[i], static_cast<int>(3 + i));
  ::close_range(static_cast<unsigned>(3 + moved.size()), ~0u, 0);
  std::vector<char*> argv{const_cast<char*>(bin.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(bin.c_str(), argv.data());
  ::_exit(127);
}

int bootstrap_memfd(const pb::WorkerBootstrap& b) {
  int fd = ::memfd_create("portal-bootstrap", MFD_CLOEXEC);
  std::string data;
  b.SerializeToString(&data);
  if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) return -1;
  return fd;
}

}  // namespace

std::string find_binary(const std::string& name) { return tools::find_program(name); }

std::string find_module(const std::string& name) { return tools::find_module(name); }

std::uint64_t cpu_ns(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  std::uint64_t total = 0;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/schedstat");
    std::uint64_t ns = 0;
    if (in >> ns) total += ns;
  }
  ::closedir(d);
  return total;
}

void Child::kill_and_wait() {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

void Client::send(const std::string& path, const std::string& body, std::uint64_t id, bool stamp) {
  env_.Clear();
  pb::Message* m = env_.mutable_request();
  m->set_id(id);
  m->set_path(path);
  m->set_method(pb::GET);
  m->set_body(body);
  if (stamp) {
    pb::Header* h = m->add_headers();
    h->set_key("stamp");
    h->set_value("1");
  }
  buf_.clear();
  env_.SerializeToString(&buf_);
  ep_->send(std::move(buf_));
  buf_ = std::string();
}

void Client::hello() {
  pb::Envelope e;
  e.mutable_hello()->set_module("benchclient");
  e.mutable_hello()->set_generation(1);
  e.mutable_hello()->set_pid(::getpid());
  std::string s;
  e.SerializeToString(&s);
  ep_->send(std::move(s));
  flush();
}

pb::Response Client::next_response() {
  for (;;) {
    std::span<const std::byte> rec;
    std::string why;
    ipc::ReadStatus st = ep_->receive(rec, &why);
    if (st == ipc::ReadStatus::record) {
      bool ok = env_.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
      ep_->release();
      if (!ok) continue;
      if (env_.has_response()) return std::move(*env_.mutable_response());
      if (env_.has_attach()) hello();
      continue;
    }
    if (st == ipc::ReadStatus::corrupt) {
      std::fprintf(stderr, "portal-bench: channel broken: %s\n", why.c_str());
      std::exit(1);
    }
    flush();
    if (ep_->prepare_sleep()) {
      pollfd p{ep_->wait_fd(), POLLIN, 0};
      ::poll(&p, 1, 5000);
      ep_->woke();
    }
  }
}

std::unique_ptr<RoutedSetup> RoutedSetup::start(const std::string& transport, int router_spin_us, int worker_spin_us,
                                                std::string* error) {
  std::unique_ptr<RoutedSetup> s(new RoutedSetup);
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    *error = "socketpair failed";
    return nullptr;
  }
  s->control_ = sp[0];
  s->router_.pid = spawn(find_binary("portal-router"), {"--control-fd", "3"}, {sp[1]});
  ::close(sp[1]);
  pb::Control cfg;
  cfg.mutable_configure()->set_instance("bench");
  cfg.mutable_configure()->set_default_timeout_ms(10000);
  if (router_spin_us >= 0) (*cfg.mutable_configure()->mutable_values())["core.router_spin_us"] = std::to_string(router_spin_us);
  (void)ipc::send_control(s->control_, cfg);

  auto attach = [&](const std::string& module, std::uint64_t gen, std::vector<int> fds) {
    pb::Control c;
    pb::AttachWorker* a = c.mutable_attach_worker();
    a->mutable_status()->set_name(module);
    a->mutable_status()->set_state("running");
    a->mutable_status()->set_generation(gen);
    a->set_transport(transport);
    a->set_queue_limit(100000);
    (void)ipc::send_control(s->control_, c, fds);
  };
  pb::WorkerBootstrap b;
  b.set_module("bench");
  b.set_library(find_module("bench"));
  b.set_generation(1);
  b.set_threads(1);
  b.set_transport(transport);
  b.set_channel_fd(4);
  b.set_log_level("warn");
  b.set_busy_poll_us(static_cast<std::uint32_t>(worker_spin_us));
  std::unique_ptr<ipc::Endpoint> client_ep;
  if (transport == "uds") {
    int w[2], c[2];
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w);
    ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c);
    int boot = bootstrap_memfd(b);
    s->worker_.pid = spawn(find_binary("portal-worker"), {"--bootstrap-fd", "3"}, {boot, w[1]});
    ::close(boot);
    ::close(w[1]);
    attach("bench", 1, {w[0]});
    attach("benchclient", 1, {c[0]});
    ::close(w[0]);
    ::close(c[0]);
    client_ep = std::make_unique<ipc::SocketEndpoint>(ipc::UniqueFd(c[1]));
  } else {
    auto wch = ipc::create_channel("bench-worker", ipc::kDefaultRingBytes, 1);
    auto cch = ipc::create_channel("bench-client", ipc::kDefaultRingBytes, 1);
    if (!wch || !cch) {
      *error = "cannot create channels";
      return nullptr;
    }
    b.set_ring_bytes(ipc::kDefaultRingBytes);
    b.set_wake_fd(5);
    b.set_notify_fd(6);
    int boot = bootstrap_memfd(b);
    s->worker_.pid = spawn(find_binary("portal-worker"), {"--bootstrap-fd", "3"},
                           {boot, wch->memfd.get(), wch->worker_bell.get(), wch->router_bell.get()});
    ::close(boot);
    attach("bench", 1, {wch->memfd.get(), wch->router_bell.get(), wch->worker_bell.get()});
    attach("benchclient", 1, {cch->memfd.get(), cch->router_bell.get(), cch->worker_bell.get()});
    auto mapped = ipc::Channel::map(cch->memfd.get(), ipc::Side::worker, 1);
    if (!mapped) {
      *error = mapped.error().message;
      return nullptr;
    }
    client_ep = std::make_unique<ipc::RingEndpoint>(std::move(*mapped), std::move(cch->worker_bell),
                                                    std::move(cch->router_bell));
  }
  s->client_ = std::make_unique<Client>(std::move(client_ep));
  s->client_->hello();
  if (!s->wait_ready("bench", error)) return nullptr;
  return s;
}

bool RoutedSetup::wait_ready(const std::string& module, std::string* error) {
  for (int waited = 0; waited < 10000;) {
    pollfd p{control_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      waited += 100;
      continue;
    }
    pb::Control c;
    std::vector<ipc::UniqueFd> fds;
    ipc::ControlRead r = ipc::recv_control(control_, c, fds, error);
    if (r == ipc::ControlRead::closed || r == ipc::ControlRead::error) {
      *error = "router closed the control socket";
      return false;
    }
    if (r == ipc::ControlRead::message && c.has_worker_ready() && c.worker_ready().module() == module) return true;
  }
  *error = "worker '" + module + "' did not become ready in 10 s";
  return false;
}

RoutedSetup::~RoutedSetup() {
  router_.kill_and_wait();
  worker_.kill_and_wait();
  if (control_ >= 0) ::close(control_);
}

}  // namespace portal::bench

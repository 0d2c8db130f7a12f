// A stand-in for portal-router in portald's process tests. Logs every control message to
// $FAKE_LOG, answers configure with router_ready and attach_worker with worker_ready (after
// mapping the channel it was given), and acts on test directives carried in the config:
//   [fake] actions = ID:ACTION:MODULE,...   send module_action once per ID
//   [fake] kill = ID:MODULE,...             send kill_worker for the module's last generation
//   [fake] no_ready = MODULE                never answer that module's attach
//   [fake] exit_code = N                    exit with N right after a configure
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "fake_log.h"
#include "ipc/channel.h"
#include "ipc/control.h"
#include "portal.pb.h"

namespace {

using portal::pb::Control;

int g_fd = 3;
std::map<std::string, std::uint64_t> g_generation;
std::set<std::string> g_done;  // directive ids already acted on
std::string g_no_ready;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

void send(const Control& c) {
  if (auto st = portal::ipc::send_control(g_fd, c); !st) fake_log("router send-failed " + st.error().message);
}

void run_directives(const google::protobuf::Map<std::string, std::string>& values) {
  static std::uint64_t next_id = 1;
  if (auto it = values.find("fake.actions"); it != values.end())
    for (const auto& d : split(it->second, ',')) {
      auto parts = split(d, ':');
      if (parts.size() != 3 || !g_done.insert("a" + parts[0]).second) continue;
      Control c;
      c.mutable_module_action()->set_id(next_id++);
      c.mutable_module_action()->set_action(parts[1]);
      c.mutable_module_action()->set_module(parts[2]);
      send(c);
    }
  if (auto it = values.find("fake.kill"); it != values.end())
    for (const auto& d : split(it->second, ',')) {
      auto parts = split(d, ':');
      if (parts.size() != 2 || !g_done.insert("k" + parts[0]).second) continue;
      Control c;
      c.mutable_kill_worker()->set_module(parts[1]);
      c.mutable_kill_worker()->set_generation(g_generation[parts[1]]);
      c.mutable_kill_worker()->set_reason("corrupt ring record");
      send(c);
    }
  auto it = values.find("fake.no_ready");
  g_no_ready = it == values.end() ? "" : it->second;
  if (auto ex = values.find("fake.exit_code"); ex != values.end()) std::exit(std::atoi(ex->second.c_str()));
}

std::string status_text(const portal::pb::ModuleStatus& s) {
  return s.name() + " state=" + s.state() + " pid=" + std::to_string(s.pid()) +
         " gen=" + std::to_string(s.generation()) + " restarts=" + std::to_string(s.restarts()) +
         " isolation=" + s.isolation() + " last_exit=[" + s.last_exit() + "]";
}

void on_attach(const portal::pb::AttachWorker& a, std::vector<portal::ipc::UniqueFd>& fds) {
  const auto& s = a.status();
  bool ok = a.transport() == "uds" ? fds.size() == 1 : fds.size() == 3;
  if (ok && a.transport() == "ring") {
    auto ch = portal::ipc::Channel::map(fds[0].get(), portal::ipc::Side::router, s.generation());
    ok = ch && (*ch)->ring_bytes() == a.ring_bytes();
  }
  g_generation[s.name()] = s.generation();
  fake_log("router attach " + status_text(s) + " transport=" + a.transport() + " fds=" + std::to_string(fds.size()) +
           " timeout=" + std::to_string(a.timeout_ms()) + " queue=" + std::to_string(a.queue_limit()) +
           (ok ? " ok" : " BAD"));
  if (s.name() == g_no_ready) return;
  Control c;
  c.mutable_worker_ready()->set_module(s.name());
  c.mutable_worker_ready()->set_generation(s.generation());
  send(c);
}

void handle(const Control& m, std::vector<portal::ipc::UniqueFd>& fds) {
  switch (m.kind_case()) {
    case Control::kConfigure: {
      fake_log("router configure pid=" + std::to_string(::getpid()) + " instance=" + m.configure().instance() +
               " timeout=" + std::to_string(m.configure().default_timeout_ms()) +
               " level=" + m.configure().values().at("core.log_level"));
      Control c;
      c.mutable_router_ready()->set_pid(::getpid());
      send(c);
      run_directives(m.configure().values());
      return;
    }
    case Control::kAttachWorker: return on_attach(m.attach_worker(), fds);
    case Control::kWorkerGone:
      return fake_log("router gone " + status_text(m.worker_gone().status()) +
                      " gone_gen=" + std::to_string(m.worker_gone().generation()));
    case Control::kStatusUpdate: return fake_log("router status " + status_text(m.status_update().status()));
    case Control::kForget: return fake_log("router forget " + m.forget().module());
    case Control::kLoadInprocess:
      return fake_log("router inprocess " + status_text(m.load_inprocess().status()) +
                      " lib=" + m.load_inprocess().library());
    case Control::kActionResult: {
      std::string text = m.action_result().text();
      if (!text.empty() && text.back() == '\n') text.pop_back();
      return fake_log("router result id=" + std::to_string(m.action_result().id()) +
                      " status=" + std::to_string(m.action_result().status()) + " text=[" + text + "]");
    }
    case Control::kShutdown: return fake_log("router shutdown drain=" + std::to_string(m.shutdown().drain_ms()));
    default: return fake_log("router unexpected " + std::to_string(m.kind_case()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "--control-fd") != 0) return 64;
  g_fd = std::atoi(argv[2]);
  ::signal(SIGTERM, [](int) {
    fake_log("router term pid=" + std::to_string(::getpid()));
    ::_exit(0);
  });
  for (;;) {
    pollfd p{g_fd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) continue;
    Control m;
    std::vector<portal::ipc::UniqueFd> fds;
    std::string why;
    auto r = portal::ipc::recv_control(g_fd, m, fds, &why);
    if (r == portal::ipc::ControlRead::closed) {
      fake_log("router eof");
      return 0;
    }
    if (r == portal::ipc::ControlRead::error) fake_log("router recv-error " + why);
    if (r == portal::ipc::ControlRead::message) handle(m, fds);
  }
}

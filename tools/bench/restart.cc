// (d) Crash of a worker to serving again, under a real portald: kill -9 the module's worker
// and poll its path until it answers 200 again.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "ctl_client.h"
#include "tools/bench/harness.h"
#include "tools/bench/scenarios.h"

namespace portal::bench {

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

int module_pid(tools::CtlClient& c, const std::string& name) {
  auto r = c.request(Method::get, "/core/modules", {{"format", "json"}}, {}, {}, std::chrono::milliseconds(2000));
  if (!r || r->status != 200) return -1;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_array()) return -1;
  for (const auto& m : j)
    if (m.value("name", "") == name && m.value("ready", false)) return m.value("pid", -1);
  return -1;
}

}  // namespace

RestartResult restart(const Options& o) {
  RestartResult r;
  fs::path dir = fs::temp_directory_path() / ("portal-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string sock = (dir / "ctl.sock").string();
  {
    std::ofstream conf(dir / "portal.conf");
    conf << "[core]\ninstance = bench\ndata_dir = " << (dir / "data").string() << "\nlog_dir = "
         << (dir / "log").string() << "\nrun_dir = " << dir.string() << "\nlog_level = error\n"
         << "[modules]\nload = ctl\nload = bench\n[mod_ctl]\nsocket = " << sock << "\n"
         << "[mod_bench]\nlibrary = " << find_module("bench") << "\nrestart = always\nbackoff_initial_ms = 0\ncrash_limit = 0\n";
  }
  std::string portald = find_binary("portald");
  std::string conf = (dir / "portal.conf").string();
  pid_t sup = ::fork();
  if (sup == 0) {
    ::execl(portald.c_str(), portald.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto cleanup = [&] {
    ::kill(sup, SIGTERM);
    ::waitpid(sup, nullptr, 0);
    std::error_code ec;
    fs::remove_all(dir, ec);
  };
  std::unique_ptr<tools::CtlClient> client;
  for (int i = 0; i < 200 && !client; ++i) {
    auto c = tools::CtlClient::connect(sock);
    if (c) client = std::move(*c);
    else std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (!client) return cleanup(), r.error = "portald did not open " + sock, r;

  std::vector<double> samples;
  for (int k = 0; k < o.kills; ++k) {
    int pid = -1;
    for (int i = 0; i < 200 && pid <= 0; ++i) {
      pid = module_pid(*client, "bench");
      if (pid <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid <= 0) return cleanup(), r.error = "bench module never became ready", r;
    auto t0 = Clock::now();
    ::kill(pid, SIGKILL);
    for (;;) {
      auto resp = client->request(Method::get, "/bench/echo", {}, "x", {}, std::chrono::milliseconds(2000));
      if (resp && resp->status == 200) break;
      if (Clock::now() - t0 > std::chrono::seconds(10)) return cleanup(), r.error = "module did not come back", r;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    // Stay clear of the crash-loop window (more than 5 crashes in 10 s parks a module):
    // the bench module is configured with restart = always and no crash limit below.
  }
  cleanup();
  std::sort(samples.begin(), samples.end());
  r.p50_ms = percentile(samples, 0.5);
  r.p99_ms = percentile(samples, 0.99);
  r.kills = static_cast<int>(samples.size());
  return r;
}

}  // namespace portal::bench

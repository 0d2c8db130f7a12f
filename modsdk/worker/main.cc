// portal-worker --bootstrap-fd N: one module in its own process (docs/ARCHITECTURE.md).
// Exit codes: 0 after SIGTERM/SIGINT/Drain, 78 when the module's configuration can never
// work (not respawned), 1 when loading failed otherwise, 70 when the router broke the ring
// protocol, 2 on a bad command line.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "common/log.h"
#include "host/loader.h"
#include "host/runtime.h"
#include "portal_build_config.h"
#include "worker/bootstrap.h"
#include "worker/worker.h"

namespace {

using namespace portal;
std::string g_topic = "worker";  // worker.<module> once the bootstrap is read
constexpr int kExitLoadFailed = 1;
constexpr int kExitUsage = 2;
constexpr std::chrono::milliseconds kDefaultGrace{5000};

constexpr const char* kUsage =
    "Usage: portal-worker --bootstrap-fd N\n"
    "Runs one Portal module in this process; started by portald, which passes the\n"
    "module, its configuration and the channel to the router in the memfd N.\n"
    "  --bootstrap-fd N  read the WorkerBootstrap from fd N\n"
    "  --help            show this help\n"
    "  --version         show the version\n";

// 0 on success, or the exit code.
int parse_args(int argc, char** argv, int& fd) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view value;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (a == "--version") {
      std::printf("portal-worker (Portal) %s\n", PORTAL_VERSION);
      std::exit(0);
    }
    if (a == "--bootstrap-fd" && i + 1 < argc) {
      value = argv[++i];
    } else if (a.starts_with("--bootstrap-fd=")) {
      value = a.substr(std::strlen("--bootstrap-fd="));
    } else {
      std::fprintf(stderr, "portal-worker: unexpected argument '%s' (see --help)\n", argv[i]);
      return kExitUsage;
    }
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), fd);
    if (ec != std::errc() || end != value.data() + value.size() || fd < 0) {
      std::fprintf(stderr, "portal-worker: --bootstrap-fd needs a file descriptor number\n");
      return kExitUsage;
    }
  }
  if (fd < 0) {
    std::fprintf(stderr, "portal-worker: --bootstrap-fd is required (see --help)\n");
    return kExitUsage;
  }
  return 0;
}

// Signals are taken by sigwait() on the main thread; every thread started later inherits the mask.
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

host::RuntimeOptions runtime_options(const pb::WorkerBootstrap& boot, const ModuleInfo& info) {
  host::RuntimeOptions o;
  o.module_name = info.name;
  o.version = info.version ? info.version : "";
  o.description = info.description ? info.description : "";
  o.generation = boot.generation();
  if (boot.call_timeout_ms() > 0) o.call_timeout = std::chrono::milliseconds(boot.call_timeout_ms());
  o.config = {boot.config().begin(), boot.config().end()};
  return o;
}

worker::WorkerOptions worker_options(const pb::WorkerBootstrap& boot) {
  worker::WorkerOptions o;
  o.threads = std::max(1u, boot.threads());
  o.busy_poll = std::chrono::microseconds(boot.busy_poll_us());
  o.stream_transport = boot.transport() == "uds";
  o.module = boot.module();
  return o;
}

// Serves until SIGTERM/SIGINT or Drain, then stops in order: handler threads (bounded),
// the module (unload, paths, timers), the last writes.
int serve(worker::Worker& worker, host::ModuleRuntime& runtime) {
  std::atomic<std::uint32_t> drain_ms{0};
  pthread_t main_thread = ::pthread_self();
  worker.on_drain([&drain_ms, main_thread](std::uint32_t deadline_ms) {
    drain_ms.store(deadline_ms ? deadline_ms : static_cast<std::uint32_t>(kDefaultGrace.count()));
    ::pthread_kill(main_thread, SIGTERM);
  });
  runtime.announce(::getpid());  // the hello, then the subscriptions load() made
  worker.start();

  sigset_t set = stop_signals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  std::chrono::milliseconds grace = drain_ms.load() ? std::chrono::milliseconds(drain_ms.load()) : kDefaultGrace;
  log::info(g_topic, std::string("stopping (") + (drain_ms.load() ? "drain" : ::strsignal(sig)) + ")");
  if (!worker.stop(grace)) {
    log::warn(g_topic, "handlers still running after " + std::to_string(grace.count()) + " ms; exiting without unload");
    worker.flush(std::chrono::milliseconds(100));
    std::_Exit(0);
  }
  runtime.stop();
  worker.flush(std::chrono::milliseconds(1000));
  return 0;
}

int run(const pb::WorkerBootstrap& boot) {
  auto lib = host::ModuleLibrary::open(boot.library());
  if (!lib) {
    log::error(g_topic, lib.error().message);
    return kExitLoadFailed;
  }
  const ModuleInfo& info = (*lib)->info();
  if (boot.module() != info.name) {
    log::error(g_topic, boot.library() + " is module '" + info.name + "', not '" + boot.module() + "'");
    return kExitFatalConfig;
  }
  auto endpoint = worker::open_endpoint(boot);
  if (!endpoint) {
    log::error(g_topic, endpoint.error().message);
    return kExitLoadFailed;
  }
  // Destroyed in reverse: the runtime (and its event loop) before the uplink and the library.
  worker::Worker worker(std::move(*endpoint), worker_options(boot));
  host::ModuleRuntime runtime(runtime_options(boot, info), worker);
  worker.set_runtime(runtime);
  if (Status s = runtime.start((*lib)->create()); !s) {
    log::error(g_topic, "module " + boot.module() + " failed to load: " + s.error().message);
    return s.error().code == kFatalConfig ? kExitFatalConfig : kExitLoadFailed;
  }
  log::info(g_topic, "module " + boot.module() + " " + info.version + " running (pid " + std::to_string(::getpid()) +
                         ", generation " + std::to_string(boot.generation()) + ", " +
                         std::to_string(std::max(1u, boot.threads())) + " threads)");
  return serve(worker, runtime);
}

}  // namespace

int main(int argc, char** argv) {
  int fd = -1;
  if (int rc = parse_args(argc, argv, fd); rc != 0) return rc;
  sigset_t set = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto boot = worker::read_bootstrap(fd);
  if (!boot) {
    log::error(g_topic, boot.error().message);
    return kExitLoadFailed;
  }
  g_topic = "worker." + boot->module();
  LogLevel level;
  if (!boot->log_level().empty() && log::parse_level(boot->log_level(), level)) log::set_level(level);
  return run(*boot);
}

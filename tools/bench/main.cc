// portal-bench: ring floor, routed request over rings vs Unix sockets, crash-to-serving.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "portal_build_config.h"
#include "tools/bench/scenarios.h"

namespace {

using portal::bench::LatencyResult;
using portal::bench::Options;
using portal::bench::RestartResult;

void usage() {
  std::printf(
      "Usage: portal-bench [--json] [--only NAME] [--requests N] [--seconds S] [--kills K]\n"
      "\n"
      "Measures, in one run on this machine:\n"
      "  ring_pingpong  two processes bouncing a 64-byte payload over a channel\n"
      "  routed_ring    client worker -> portal-router -> module worker -> back, over rings\n"
      "  routed_uds     the same with the rings replaced by Unix-domain sockets\n"
      "  restart        kill -9 of a worker under portald until it serves again\n"
      "Latency with one request in flight (p50/p99/p99.9, CPU per request summed over\n"
      "all processes involved), throughput with 64 in flight.\n"
      "\n"
      "  --json         machine-readable output\n"
      "  --only NAME    run one measurement (repeatable)\n"
      "  --requests N   latency samples per measurement (default 50000)\n"
      "  --seconds S    duration of each throughput run (default 3)\n"
      "  --kills K      worker kills for 'restart' (default 50)\n"
      "  --router-spin US  override [core] router_spin_us for the routed runs\n"
      "  --worker-spin US  busy_poll_us of the echo worker (default 0)\n"
      "  --help, --version\n");
}

nlohmann::json to_json(const LatencyResult& r) {
  if (!r.error.empty()) return {{"error", r.error}};
  return {{"p50_us", r.p50_us},           {"p99_us", r.p99_us},
          {"p999_us", r.p999_us},         {"cpu_us_per_req", r.cpu_us_per_req},
          {"throughput_rps", r.throughput_rps}, {"requests", r.requests},
          {"to_module_p50_us", r.to_module_p50_us}, {"back_p50_us", r.back_p50_us}};
}

void print(const char* name, const LatencyResult& r) {
  if (!r.error.empty()) return (void)std::printf("%-14s error: %s\n", name, r.error.c_str());
  std::printf("%-14s p50 %7.2f us  p99 %7.2f us  p99.9 %8.2f us  cpu %6.2f us/req  %10.0f req/s (64 in flight)\n",
              name, r.p50_us, r.p99_us, r.p999_us, r.cpu_us_per_req, r.throughput_rps);
  if (r.to_module_p50_us > 0)
    std::printf("%-14s   split at the handler: to the module %.2f us, back %.2f us (p50)\n", "", r.to_module_p50_us,
                r.back_p50_us);
}

bool parse_int(const char* s, int& out) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v <= 0 || v > 100000000) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  bool json = false;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](int& out) {
      if (i + 1 >= argc || !parse_int(argv[++i], out)) {
        std::fprintf(stderr, "portal-bench: %s needs a positive number (try --help)\n", argv[i - 1]);
        std::exit(2);
      }
    };
    if (a == "--help" || a == "-h") return usage(), 0;
    if (a == "--version") return std::printf("portal-bench (Portal) %s\n", PORTAL_VERSION), 0;
    if (a == "--json") json = true;
    else if (a == "--only" && i + 1 < argc) only.emplace_back(argv[++i]);
    else if (a == "--requests") value(o.latency_requests);
    else if (a == "--seconds") value(o.throughput_seconds);
    else if (a == "--kills") value(o.kills);
    else if (a == "--worker-spin") value(o.worker_spin_us);
    else if (a == "--router-spin") {
      int v = 0;
      value(v);
      o.router_spin_us = v;
    }
    else {
      std::fprintf(stderr, "portal-bench: unknown argument '%s' (try --help)\n", argv[i]);
      return 2;
    }
  }
  auto wanted = [&](const char* n) { return only.empty() || std::find(only.begin(), only.end(), n) != only.end(); };
  nlohmann::json out = nlohmann::json::object();
  bool failed = false;
  auto latency = [&](const char* name, auto fn) {
    if (!wanted(name)) return;
    LatencyResult r = fn();
    failed |= !r.error.empty();
    if (json) out[name] = to_json(r);
    else print(name, r);
  };
  latency("ring_pingpong", [&] { return portal::bench::ring_pingpong(o); });
  latency("routed_ring", [&] { return portal::bench::routed(o, "ring"); });
  latency("routed_uds", [&] { return portal::bench::routed(o, "uds"); });
  if (wanted("restart")) {
    RestartResult r = portal::bench::restart(o);
    failed |= !r.error.empty();
    if (json) {
      out["restart"] = r.error.empty() ? nlohmann::json{{"p50_ms", r.p50_ms}, {"p99_ms", r.p99_ms}, {"kills", r.kills}}
                                       : nlohmann::json{{"error", r.error}};
    } else if (r.error.empty()) {
      std::printf("%-14s crash-to-serving p50 %.2f ms  p99 %.2f ms  (%d kills)\n", "restart", r.p50_ms, r.p99_ms,
                  r.kills);
    } else {
      std::printf("%-14s error: %s\n", "restart", r.error.c_str());
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return failed ? 1 : 0;
}

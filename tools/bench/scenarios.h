// The portal-bench measurements (issue: foundation, item 9).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace portal::bench {

struct LatencyResult {
  double p50_us = 0, p99_us = 0, p999_us = 0;
  double cpu_us_per_req = 0;  // all processes involved, one request in flight
  double throughput_rps = 0;  // 64 in flight
  // Routed only: median one-way times measured with the module's monotonic timestamp.
  double to_module_p50_us = 0, back_p50_us = 0;
  std::uint64_t requests = 0;
  std::string error;
};

struct RestartResult {
  double p50_ms = 0, p99_ms = 0;
  int kills = 0;
  std::string error;
};

struct Options {
  int latency_requests = 50000;
  int throughput_seconds = 3;
  int in_flight = 64;
  int kills = 50;
  int body_bytes = 64;
  int router_spin_us = -1;  // -1: the router's default
  int worker_spin_us = 0;   // the echo worker's busy_poll_us
};

LatencyResult ring_pingpong(const Options& o);
LatencyResult routed(const Options& o, const std::string& transport);
RestartResult restart(const Options& o);

// Percentile of sorted samples (q in [0,1]).
double percentile(const std::vector<double>& sorted, double q);

}  // namespace portal::bench

// (b)/(c) A routed request: client worker -> router -> module worker -> back, over the
// rings or, as the baseline, over Unix-domain sockets with the same router logic.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "tools/bench/harness.h"
#include "tools/bench/scenarios.h"

namespace portal::bench {

namespace {
using Clock = std::chrono::steady_clock;
}

LatencyResult routed(const Options& o, const std::string& transport) {
  LatencyResult r;
  std::string error;
  auto setup = RoutedSetup::start(transport, o.router_spin_us, o.worker_spin_us, &error);
  if (!setup) return r.error = error, r;
  Client& c = setup->client();
  std::string body(static_cast<std::size_t>(o.body_bytes), 'x');
  auto cpu_all = [&] {
    std::uint64_t t = cpu_ns(::getpid());
    for (pid_t p : setup->pids()) t += cpu_ns(p);
    return t;
  };

  std::uint64_t id = 1;
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(o.latency_requests));
  const int warmup = 2000;
  std::uint64_t cpu0 = 0;
  for (int i = 0; i < o.latency_requests + warmup; ++i) {
    if (i == warmup) cpu0 = cpu_all();
    auto t0 = Clock::now();
    c.send("/bench/echo", body, id++);
    c.flush();
    pb::Response resp = c.next_response();
    double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (resp.status() != 200) return r.error = "echo answered " + std::to_string(resp.status()), r;
    if (i >= warmup) samples.push_back(us);
  }
  std::uint64_t cpu1 = cpu_all();
  std::sort(samples.begin(), samples.end());
  r.p50_us = percentile(samples, 0.5);
  r.p99_us = percentile(samples, 0.99);
  r.p999_us = percentile(samples, 0.999);
  r.cpu_us_per_req = static_cast<double>(cpu1 - cpu0) / 1000.0 / o.latency_requests;

  // Where the time goes: the module stamps when its handler ran.
  std::vector<double> there, back;
  for (int i = 0; i < 5000; ++i) {
    auto t0 = Clock::now();
    c.send("/bench/echo", body, id++, true);
    c.flush();
    pb::Response resp = c.next_response();
    auto t2 = Clock::now();
    std::int64_t handler_ns = std::strtoll(resp.body().c_str(), nullptr, 10);
    auto t1 = Clock::time_point(std::chrono::nanoseconds(handler_ns));
    there.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    back.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  std::sort(there.begin(), there.end());
  std::sort(back.begin(), back.end());
  r.to_module_p50_us = percentile(there, 0.5);
  r.back_p50_us = percentile(back, 0.5);

  std::uint64_t done = 0;
  for (int i = 0; i < o.in_flight; ++i) c.send("/bench/echo", body, id++);
  c.flush();
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(o.throughput_seconds);
  while (Clock::now() < end) {
    pb::Response resp = c.next_response();
    if (resp.status() != 200) return r.error = "echo answered " + std::to_string(resp.status()) + " under load", r;
    ++done;
    c.send("/bench/echo", body, id++);
    if ((done & 7) == 0) c.flush();
  }
  c.flush();
  r.throughput_rps = static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
  r.requests = static_cast<std::uint64_t>(o.latency_requests) + done;
  return r;
}

}  // namespace portal::bench

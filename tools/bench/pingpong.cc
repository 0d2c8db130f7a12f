// (a) Ring ping-pong between two processes: the floor under every routed request.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "ipc/endpoint.h"
#include "tools/bench/harness.h"
#include "tools/bench/scenarios.h"

namespace portal::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Blocks until one payload arrives (sleeping on the doorbell when empty).
std::string receive_one(ipc::Endpoint& ep) {
  for (;;) {
    std::span<const std::byte> rec;
    if (ep.receive(rec, nullptr) == ipc::ReadStatus::record) {
      std::string s(reinterpret_cast<const char*>(rec.data()), rec.size());
      ep.release();
      return s;
    }
    ep.flush();
    if (ep.prepare_sleep()) {
      pollfd p{ep.wait_fd(), POLLIN, 0};
      ::poll(&p, 1, 1000);
      ep.woke();
    }
  }
}

[[noreturn]] void echo_child(std::unique_ptr<ipc::Endpoint> ep) {
  for (;;) {
    std::string s = receive_one(*ep);
    if (s == "quit") ::_exit(0);
    ep->send(std::move(s));
    ep->notify();
  }
}

}  // namespace

LatencyResult ring_pingpong(const Options& o) {
  LatencyResult r;
  auto fds = ipc::create_channel("bench-pingpong", ipc::kDefaultRingBytes, 1);
  if (!fds) return r.error = fds.error().message, r;
  pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto ch = ipc::Channel::map(fds->memfd.get(), ipc::Side::worker, 1);
    if (!ch) ::_exit(1);
    echo_child(std::make_unique<ipc::RingEndpoint>(std::move(*ch), std::move(fds->worker_bell),
                                                   std::move(fds->router_bell)));
  }
  auto ch = ipc::Channel::map(fds->memfd.get(), ipc::Side::router, 1);
  if (!ch) return r.error = ch.error().message, r;
  ipc::RingEndpoint ep(std::move(*ch), std::move(fds->router_bell), std::move(fds->worker_bell));
  std::string body(static_cast<std::size_t>(o.body_bytes), 'x');

  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(o.latency_requests));
  std::uint64_t cpu0 = cpu_ns(::getpid()) + cpu_ns(child);
  for (int i = 0; i < o.latency_requests + 1000; ++i) {
    auto t0 = Clock::now();
    ep.send(body);
    ep.notify();
    receive_one(ep);
    double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    if (i >= 1000) samples.push_back(us);  // warm-up excluded
  }
  std::uint64_t cpu1 = cpu_ns(::getpid()) + cpu_ns(child);
  std::sort(samples.begin(), samples.end());
  r.p50_us = percentile(samples, 0.5);
  r.p99_us = percentile(samples, 0.99);
  r.p999_us = percentile(samples, 0.999);
  r.cpu_us_per_req = static_cast<double>(cpu1 - cpu0) / 1000.0 / (o.latency_requests + 1000);

  // Throughput: keep in_flight payloads outstanding.
  std::uint64_t done = 0;
  for (int i = 0; i < o.in_flight; ++i) ep.send(body);
  ep.notify();
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(o.throughput_seconds);
  while (Clock::now() < end) {
    receive_one(ep);
    ++done;
    ep.send(body);
    ep.notify();
  }
  r.throughput_rps = static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
  r.requests = static_cast<std::uint64_t>(o.latency_requests) + done;
  ep.send("quit");
  ep.notify();
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return r;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace portal::bench

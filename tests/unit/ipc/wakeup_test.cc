// Lost wake-ups: ping-pong between two processes where each side goes to sleep on its
// doorbell whenever its ring is empty, so nearly every message has to wake a sleeper. A
// wake-up the protocol loses leaves both sides asleep; the 2 s limit on every wait turns
// that into a failure instead of a hang. Random delays before deciding to sleep move the
// sleep/publish race around.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <string>

#include "ipc_test_support.h"

namespace portal::ipc {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::child_fail;

constexpr std::uint64_t kGeneration = 31;
constexpr int kRoundLimitMs = 2000;

struct Shared {
  std::atomic<std::uint64_t> sleeps{0};
};

void spin(std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
}

// Receives the next payload, going to sleep whenever the ring is empty. Empty string on
// success. Half of the time it first dawdles for up to ~30 us, about what the peer needs to
// wake up and answer, so the answer is published right while this side decides to sleep.
std::string await(RingEndpoint& ep, std::uint64_t seq, std::size_t size, Shared& shared) {
  const std::uint64_t r = test::mix(seq * 31 + size);
  for (bool first = true;; first = false) {
    std::span<const std::byte> view;
    std::string why;
    ReadStatus st = ep.receive(view, &why);
    if (st == ReadStatus::corrupt) return "corrupt: " + why;
    if (st == ReadStatus::record) {
      std::string bad = test::check_payload(view, seq, size);
      ep.release();
      return bad;
    }
    if (first && (r & 1)) spin((r >> 8) & 0x7fff);
    if (ep.prepare_sleep()) {
      shared.sleeps.fetch_add(1, std::memory_order_relaxed);
      if (!Doorbell::wait(ep.wait_fd(), kRoundLimitMs))
        return "message " + std::to_string(seq) + ": no wake-up within 2 s";
      ep.woke();
    }
  }
}

std::string reply(RingEndpoint& ep, std::uint64_t seq, std::size_t size) {
  ep.send(test::make_payload(seq, size));
  if (ep.queued() != 0) return "ping-pong never fills the ring";
  ep.notify();
  return {};
}

std::size_t size_of(std::uint64_t seq) { return test::mix(seq) % 200; }

// The router pings with even numbers, the worker answers with the next odd one.
std::string play(RingEndpoint& ep, bool router, std::uint64_t rounds, Shared& shared) {
  for (std::uint64_t round = 0; round < rounds; ++round) {
    std::uint64_t ping = 2 * round, pong = ping + 1;
    std::string err = router ? reply(ep, ping, size_of(ping)) : await(ep, ping, size_of(ping), shared);
    if (err.empty()) err = router ? await(ep, pong, size_of(pong), shared) : reply(ep, pong, size_of(pong));
    if (!err.empty()) return err;
  }
  return {};
}

TEST(LostWakeup, PingPongWhereBothSidesAlwaysSleep) {
  constexpr std::uint64_t kRounds = 200'000;
  auto fds = create_channel("portal-test-wakeup", 4096, kGeneration);
  ASSERT_TRUE(fds) << fds.error().message;
  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Shared& shared = *new (mem) Shared;
  auto router = test::open_endpoint(*fds, Side::router, kGeneration);
  ASSERT_TRUE(router);

  auto t0 = std::chrono::steady_clock::now();
  Child worker = Child::spawn([&] {
    auto ep = test::open_endpoint(*fds, Side::worker, kGeneration);
    if (!ep) return child_fail("worker", "map failed");
    std::string err = play(*ep, false, kRounds, shared);
    return err.empty() ? 0 : child_fail("worker", err);
  });
  EXPECT_EQ(play(*router, true, kRounds, shared), "");
  EXPECT_EQ(worker.finish(10s), "exit 0");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("%llu rounds in %lld ms, %llu sleeps\n", static_cast<unsigned long long>(kRounds),
              static_cast<long long>(ms.count()), static_cast<unsigned long long>(shared.sleeps.load()));
  EXPECT_GT(shared.sleeps.load(), kRounds / 4);  // the sleep path was a common path
  ::munmap(mem, sizeof(Shared));
}

}  // namespace
}  // namespace portal::ipc

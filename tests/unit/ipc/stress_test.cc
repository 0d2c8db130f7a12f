// Two processes, one small ring (64 KiB), RingEndpoint with the real doorbells and the sleep
// protocol on both sides. Every payload is recomputed by the receiver from its sequence
// number, so loss, duplication, reordering and torn records all fail the test. The ring is
// small enough that wrap-around and full-ring backpressure happen all the time; a wait on a
// doorbell that times out is a lost wake-up and fails the test.
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

constexpr std::uint64_t kGeneration = 11;
constexpr std::uint32_t kRingBytes = 64u << 10;
constexpr int kHangMs = 5000;  // no legitimate wait comes near this

// Counters both processes update (a shared anonymous mapping survives fork).
struct SharedStats {
  std::atomic<std::uint64_t> producer_waits{0};
  std::atomic<std::uint64_t> consumer_sleeps{0};
};

SharedStats* map_stats() {
  void* p = ::mmap(nullptr, sizeof(SharedStats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : new (p) SharedStats;
}

// Producer side: everything flushed, or false after a wait no wake-up ended.
bool wait_for_room(RingEndpoint& ep, SharedStats& stats) {
  while (!ep.flush()) {
    ep.notify();  // the consumer must be told about what is already in the ring
    stats.producer_waits.fetch_add(1, std::memory_order_relaxed);
    if (!Doorbell::wait(ep.wait_fd(), kHangMs)) return false;
    Doorbell::drain(ep.wait_fd());
  }
  return true;
}

template <class SizeOf>
std::string produce(RingEndpoint& ep, std::uint64_t count, SizeOf size_of, SharedStats& stats) {
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    ep.send(test::make_payload(seq, size_of(seq)));
    if (ep.queued() > 0 && !wait_for_room(ep, stats))
      return "producer: no wake-up within " + std::to_string(kHangMs) + " ms at seq " + std::to_string(seq);
    ep.notify();
  }
  return {};
}

template <class SizeOf>
std::string consume(RingEndpoint& ep, std::uint64_t count, SizeOf size_of, SharedStats& stats) {
  std::uint64_t seq = 0;
  while (seq < count) {
    std::span<const std::byte> view;
    std::string why;
    switch (ep.receive(view, &why)) {
      case ReadStatus::record: {
        std::string bad = test::check_payload(view, seq, size_of(seq));
        if (!bad.empty()) return "consumer: " + bad;
        ep.release();
        ++seq;
        break;
      }
      case ReadStatus::empty:
        if (ep.prepare_sleep()) {
          stats.consumer_sleeps.fetch_add(1, std::memory_order_relaxed);
          if (!Doorbell::wait(ep.wait_fd(), kHangMs))
            return "consumer: no wake-up within " + std::to_string(kHangMs) + " ms at seq " + std::to_string(seq);
          ep.woke();
        }
        break;
      case ReadStatus::corrupt:
        return "consumer: corrupt at seq " + std::to_string(seq) + ": " + why;
    }
  }
  std::span<const std::byte> view;
  if (ep.receive(view, nullptr) != ReadStatus::empty) return "consumer: more records than sent";
  return {};
}

class RingStress : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fds = create_channel("portal-test-stress", kRingBytes, kGeneration);
    ASSERT_TRUE(fds) << fds.error().message;
    fds_ = std::move(*fds);
    stats_ = map_stats();
    ASSERT_NE(stats_, nullptr);
  }
  void TearDown() override {
    if (stats_) ::munmap(stats_, sizeof(SharedStats));
  }
  ChannelFds fds_;
  SharedStats* stats_ = nullptr;
};

TEST_F(RingStress, MillionsOfRandomSizedRecordsWorkerToRouter) {
  constexpr std::uint64_t kCount = 4'000'000;
  auto router = test::open_endpoint(fds_, Side::router, kGeneration);
  ASSERT_TRUE(router);
  const std::size_t max = router->channel().producer().max_record_payload();
  auto size_of = [max](std::uint64_t seq) { return test::skewed_size(seq, max); };

  Child worker = Child::spawn([&] {
    auto ep = test::open_endpoint(fds_, Side::worker, kGeneration);
    if (!ep) return child_fail("worker", "map failed");
    std::string err = produce(*ep, kCount, size_of, *stats_);
    return err.empty() ? 0 : child_fail("worker", err);
  });

  EXPECT_EQ(consume(*router, kCount, size_of, *stats_), "");
  EXPECT_EQ(worker.finish(30s), "exit 0");
  // The ring wrapped many times, filled up, and both sides slept on their doorbells.
  EXPECT_GT(router->channel().header()->to_router.tail.load(), 100u * kRingBytes);
  EXPECT_GT(stats_->producer_waits.load(), 0u);
  EXPECT_GT(stats_->consumer_sleeps.load(), 0u);
  std::printf("records %llu, producer waits %llu, consumer sleeps %llu\n",
              static_cast<unsigned long long>(kCount),
              static_cast<unsigned long long>(stats_->producer_waits.load()),
              static_cast<unsigned long long>(stats_->consumer_sleeps.load()));
}

TEST_F(RingStress, UniformSizesUpToOneRecordRouterToWorker) {
  constexpr std::uint64_t kCount = 300'000;
  auto router = test::open_endpoint(fds_, Side::router, kGeneration);
  ASSERT_TRUE(router);
  const std::size_t max = router->channel().producer().max_record_payload();
  auto size_of = [max](std::uint64_t seq) { return test::mix(seq) % (max + 1); };

  Child worker = Child::spawn([&] {
    auto ep = test::open_endpoint(fds_, Side::worker, kGeneration);
    if (!ep) return child_fail("worker", "map failed");
    std::string err = consume(*ep, kCount, size_of, *stats_);
    return err.empty() ? 0 : child_fail("worker", err);
  });

  EXPECT_EQ(produce(*router, kCount, size_of, *stats_), "");
  EXPECT_EQ(worker.finish(30s), "exit 0");
  EXPECT_GT(stats_->producer_waits.load(), 0u);
}

TEST_F(RingStress, FragmentedPayloadsRouterToWorker) {
  constexpr std::uint64_t kCount = 15'000;
  auto router = test::open_endpoint(fds_, Side::router, kGeneration);
  ASSERT_TRUE(router);
  const std::size_t max = router->channel().producer().max_record_payload();
  // A quarter fit one record; the rest take 2 to 17 fragments (up to 4x the ring).
  auto size_of = [max](std::uint64_t seq) -> std::size_t {
    std::uint64_t r = test::mix(seq ^ 0xf7a9ull);
    if ((r & 3) == 0) return (r >> 2) % (max + 1);
    return max + 1 + (r >> 2) % (4 * kRingBytes - max);
  };

  Child worker = Child::spawn([&] {
    auto ep = test::open_endpoint(fds_, Side::worker, kGeneration);
    if (!ep) return child_fail("worker", "map failed");
    std::string err = consume(*ep, kCount, size_of, *stats_);
    return err.empty() ? 0 : child_fail("worker", err);
  });

  EXPECT_EQ(produce(*router, kCount, size_of, *stats_), "");
  EXPECT_EQ(worker.finish(30s), "exit 0");
  EXPECT_GT(stats_->producer_waits.load(), 0u);
}

}  // namespace
}  // namespace portal::ipc

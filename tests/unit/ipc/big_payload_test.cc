// DESIGN.md 3: "a 64 MiB body must pass intact". Both sides of a 1 MiB-ring channel send two
// 64 MiB payloads (between small ones) at the same time, so each process is producer and
// consumer at once and sleeps on its single doorbell for either reason.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "ipc_test_support.h"

namespace portal::ipc {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::child_fail;

constexpr std::uint64_t kGeneration = 21;
constexpr std::uint32_t kRingBytes = 1u << 20;
constexpr std::size_t kBig = 64u << 20;
constexpr int kHangMs = 5000;

struct Msg {
  std::uint64_t seq;
  std::size_t size;
};

// Two 64 MiB payloads (one not a multiple of a fragment) between small ones.
std::vector<Msg> messages_from(std::uint64_t base) {
  return {{base, 100}, {base + 1, kBig}, {base + 2, 7}, {base + 3, kBig + 13}, {base + 4, 0}};
}

// Sends `out`, receives and checks `in`, sleeping whenever a round brought nothing.
std::string exchange(RingEndpoint& ep, const std::vector<Msg>& out, const std::vector<Msg>& in) {
  for (const Msg& m : out) ep.send(test::make_payload(m.seq, m.size));
  std::size_t received = 0;
  for (;;) {
    ep.flush();
    ep.notify();
    if (received == in.size() && ep.queued() == 0) return {};
    bool progress = false;
    for (;;) {
      std::span<const std::byte> view;
      std::string why;
      ReadStatus st = ep.receive(view, &why);
      if (st == ReadStatus::corrupt) return "corrupt: " + why;
      if (st == ReadStatus::empty) break;
      if (received == in.size()) return "more messages than sent";
      std::string bad = test::check_payload(view, in[received].seq, in[received].size);
      if (!bad.empty()) return bad;
      ep.release();
      ++received;
      progress = true;
    }
    if (!progress && ep.prepare_sleep()) {
      if (!Doorbell::wait(ep.wait_fd(), kHangMs))
        return "no wake-up within " + std::to_string(kHangMs) + " ms (received " + std::to_string(received) +
               ", queued " + std::to_string(ep.queued()) + ")";
      ep.woke();
    }
  }
}

TEST(BigPayload, SixtyFourMiBBothWaysThroughOneMiBRings) {
  auto fds = create_channel("portal-test-big", kRingBytes, kGeneration);
  ASSERT_TRUE(fds) << fds.error().message;
  auto router = test::open_endpoint(*fds, Side::router, kGeneration);
  ASSERT_TRUE(router);
  ASSERT_EQ(router->channel().ring_bytes(), kRingBytes);
  const auto to_worker = messages_from(1000), to_router = messages_from(2000);

  auto t0 = std::chrono::steady_clock::now();
  Child worker = Child::spawn([&] {
    auto ep = test::open_endpoint(*fds, Side::worker, kGeneration);
    if (!ep) return child_fail("worker", "map failed");
    std::string err = exchange(*ep, to_router, to_worker);
    return err.empty() ? 0 : child_fail("worker", err);
  });
  EXPECT_EQ(exchange(*router, to_worker, to_router), "");
  EXPECT_EQ(worker.finish(60s), "exit 0");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("4 x 64 MiB exchanged in %lld ms\n", static_cast<long long>(ms.count()));
  // 64 MiB passed through each 1 MiB ring: the counters went round at least 64 times.
  EXPECT_GE(router->channel().header()->to_worker.tail.load(), kBig);
  EXPECT_GE(router->channel().header()->to_router.tail.load(), kBig);
}

TEST(BigPayload, RefusedAboveTheReceiversLimit) {
  // The same channel, but the receiving side only accepts 32 MiB: the first fragment's
  // announced length is refused and the channel reported corrupt.
  auto fds = create_channel("portal-test-big-limit", kRingBytes, kGeneration);
  ASSERT_TRUE(fds) << fds.error().message;
  auto router = test::open_endpoint(*fds, Side::router, kGeneration, 32u << 20);
  auto worker = test::open_endpoint(*fds, Side::worker, kGeneration);
  ASSERT_TRUE(router && worker);
  worker->send(test::make_payload(1, kBig));
  std::span<const std::byte> view;
  std::string why;
  EXPECT_EQ(router->receive(view, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

}  // namespace
}  // namespace portal::ipc

// RingEndpoint in one process (both sides mapped here): whole records and fragments at the
// size boundaries, queueing and ordering under backpressure, the doorbell protocol, and
// fragment sequences no correct peer sends.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "ipc_test_support.h"

// Largest single allocation since the last reset: shows that a hostile length announced by
// a peer is refused before anything of that size is allocated.
namespace {
std::atomic<std::size_t> g_largest_alloc{0};
}

// Out of line so that GCC does not pair free() with `new` at inlined call sites.
[[gnu::noinline]] void* operator new(std::size_t n) {
  std::size_t seen = g_largest_alloc.load(std::memory_order_relaxed);
  while (n > seen && !g_largest_alloc.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace portal::ipc {
namespace {

using test::check_payload;
using test::make_payload;

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

class RingEndpointTest : public ::testing::Test {
 protected:
  void open(std::uint32_t ring_bytes = 4096, std::size_t max_message = kMaxMessageBytes) {
    auto fds = create_channel("portal-test-endpoint", ring_bytes, 5);
    ASSERT_TRUE(fds) << fds.error().message;
    fds_ = std::move(*fds);
    router_ = test::open_endpoint(fds_, Side::router, 5, max_message);
    worker_ = test::open_endpoint(fds_, Side::worker, 5, max_message);
    ASSERT_TRUE(router_ && worker_);
  }
  // A second worker-side mapping whose producer writes raw records (instead of worker_).
  RingProducer& forge() {
    if (!forge_) {
      auto ch = Channel::map(fds_.memfd.get(), Side::worker, 5);
      EXPECT_TRUE(ch);
      forge_ = std::move(*ch);
    }
    return forge_->producer();
  }
  void forge_fragment(std::uint16_t flags, std::uint64_t aux, const std::string& piece) {
    ASSERT_TRUE(forge().try_write(RecordKind::fragment, flags, aux, bytes(piece)));
  }
  ReadStatus receive(std::string& out, std::string* why = nullptr) {
    std::span<const std::byte> view;
    ReadStatus st = router_->receive(view, why);
    if (st == ReadStatus::record) {
      out = text(view);
      router_->release();
    }
    return st;
  }
  // Moves everything the worker has sent to the router, one process playing both sides.
  std::vector<std::string> pump_worker_to_router(std::size_t expect) {
    std::vector<std::string> got;
    for (int spins = 0; got.size() < expect && spins < 1000000; ++spins) {
      worker_->flush();
      std::string s, why;
      ReadStatus st = receive(s, &why);
      if (st == ReadStatus::record) got.push_back(std::move(s));
      EXPECT_NE(st, ReadStatus::corrupt) << why;
      if (st == ReadStatus::corrupt) break;
    }
    return got;
  }
  bool rung(const UniqueFd& bell) { return Doorbell::wait(bell.get(), 0); }

  ChannelFds fds_;
  std::unique_ptr<RingEndpoint> router_, worker_;
  std::unique_ptr<Channel> forge_;
};

TEST_F(RingEndpointTest, WholeRecordsInOrder) {
  open();
  worker_->send("alpha");
  worker_->send("");
  worker_->send(std::string(300, 'z'));
  EXPECT_EQ(worker_->queued(), 0u);
  auto got = pump_worker_to_router(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "alpha");
  EXPECT_EQ(got[1], "");
  EXPECT_EQ(got[2], std::string(300, 'z'));
  std::string s;
  EXPECT_EQ(receive(s), ReadStatus::empty);
}

TEST_F(RingEndpointTest, SizesAroundOneRecordAndTheRingCapacity) {
  open(4096);
  const std::size_t max = router_->channel().producer().max_record_payload();  // 1008
  std::vector<std::size_t> sizes = {0, 1, max - 1, max, max + 1, 2 * max, 2 * max + 1, 4096, 3 * 4096 + 5, 100000};
  for (std::size_t i = 0; i < sizes.size(); ++i) worker_->send(make_payload(i, sizes[i]));
  auto got = pump_worker_to_router(sizes.size());
  ASSERT_EQ(got.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i)
    EXPECT_EQ(check_payload(bytes(got[i]), i, sizes[i]), "") << "size " << sizes[i];
}

TEST_F(RingEndpointTest, PayloadsUpToOneRecordAreDataLargerOnesAreFragments) {
  open(4096);
  RingConsumer& raw = router_->channel().consumer();  // peeked only, never popped here
  const std::size_t max = worker_->channel().producer().max_record_payload();
  worker_->send(std::string(max, 'd'));
  RecordView v{};
  ASSERT_EQ(raw.peek(v), ReadStatus::record);
  EXPECT_EQ(v.kind, RecordKind::data);
  std::string s;
  ASSERT_EQ(receive(s), ReadStatus::record);

  worker_->send(std::string(max + 1, 'f'));
  ASSERT_EQ(raw.peek(v), ReadStatus::record);
  EXPECT_EQ(v.kind, RecordKind::fragment);
  EXPECT_EQ(v.flags, kFragFirst);
  EXPECT_EQ(v.aux, max + 1);  // the first fragment announces the total
  EXPECT_EQ(v.payload.size(), max);
  raw.pop();
  ASSERT_EQ(raw.peek(v), ReadStatus::record);
  EXPECT_EQ(v.kind, RecordKind::fragment);
  EXPECT_EQ(v.flags, kFragLast);
  EXPECT_EQ(v.aux, 0u);
  EXPECT_EQ(v.payload.size(), 1u);
}

TEST_F(RingEndpointTest, FullRingQueuesAndKeepsOrder) {
  open(4096);
  const std::size_t max = 1008;
  for (int i = 0; i < 4; ++i) worker_->send(make_payload(i, max));  // fills the ring exactly
  EXPECT_EQ(worker_->queued(), 0u);
  worker_->send(make_payload(4, 10));  // no room: queued
  EXPECT_EQ(worker_->queued(), 1u);
  EXPECT_FALSE(worker_->flush());
  std::string s;
  ASSERT_EQ(receive(s), ReadStatus::record);  // one record's room frees up
  EXPECT_EQ(check_payload(bytes(s), 0, max), "");
  worker_->send(make_payload(5, 10));  // fits now, but must stay behind the queued one
  EXPECT_EQ(worker_->queued(), 2u);
  EXPECT_TRUE(worker_->flush());
  EXPECT_EQ(worker_->queued(), 0u);
  auto got = pump_worker_to_router(5);
  ASSERT_EQ(got.size(), 5u);
  for (int i = 1; i <= 5; ++i)
    EXPECT_EQ(check_payload(bytes(got[i - 1]), i, i <= 3 ? max : 10), "") << i;
}

TEST_F(RingEndpointTest, AFragmentedPayloadResumesWhereItStopped) {
  open(4096);
  std::string big = make_payload(77, 50000);  // ~50 fragments through a 4 KiB ring
  worker_->send(big);
  EXPECT_EQ(worker_->queued(), 1u);
  auto got = pump_worker_to_router(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(check_payload(bytes(got[0]), 77, 50000), "");
  EXPECT_EQ(worker_->queued(), 0u);
}

TEST_F(RingEndpointTest, ReceiveWithoutReleaseShowsTheSameRecord) {
  open();
  worker_->send("first");
  worker_->send("second");
  std::span<const std::byte> v;
  ASSERT_EQ(router_->receive(v, nullptr), ReadStatus::record);
  ASSERT_EQ(router_->receive(v, nullptr), ReadStatus::record);
  EXPECT_EQ(text(v), "first");
  router_->release();
  ASSERT_EQ(router_->receive(v, nullptr), ReadStatus::record);
  EXPECT_EQ(text(v), "second");
  router_->release();
}

// ---------------------------------------------------------------------------------------
// Doorbells

TEST_F(RingEndpointTest, NotifyRingsOnlyASleepingPeerAndOnlyAfterAWrite) {
  open();
  EXPECT_EQ(worker_->wait_fd(), worker_->wait_fd());
  EXPECT_NE(worker_->wait_fd(), router_->wait_fd());

  router_->send("while awake");
  router_->notify();
  EXPECT_FALSE(rung(fds_.worker_bell));  // the worker is not asleep: no syscall

  std::span<const std::byte> v;
  ASSERT_EQ(worker_->receive(v, nullptr), ReadStatus::record);
  worker_->release();
  ASSERT_EQ(worker_->receive(v, nullptr), ReadStatus::empty);
  ASSERT_TRUE(worker_->prepare_sleep());
  router_->notify();  // nothing written since the last notify
  EXPECT_FALSE(rung(fds_.worker_bell));

  router_->send("wake up");
  router_->notify();
  EXPECT_TRUE(rung(fds_.worker_bell));
  worker_->woke();
  EXPECT_FALSE(rung(fds_.worker_bell));  // woke() drained it
  router_->send("again");
  router_->notify();
  EXPECT_FALSE(rung(fds_.worker_bell));  // woke() cleared the sleeping flag
}

TEST_F(RingEndpointTest, PrepareSleepRefusesWhenDataIsThere) {
  open();
  router_->send("pending");
  EXPECT_FALSE(worker_->prepare_sleep());
  router_->notify();
  EXPECT_FALSE(rung(fds_.worker_bell));
}

TEST_F(RingEndpointTest, DrainingConsumerRingsAWaitingProducer) {
  open(4096);
  for (int i = 0; i < 6; ++i) worker_->send(make_payload(i, 1000));
  ASSERT_GT(worker_->queued(), 0u);
  EXPECT_FALSE(worker_->flush());
  EXPECT_FALSE(rung(fds_.worker_bell));
  std::string s;
  while (receive(s) == ReadStatus::record) {
  }
  EXPECT_TRUE(rung(fds_.worker_bell));  // the router freed space and says so
  Doorbell::drain(fds_.worker_bell.get());
  EXPECT_TRUE(worker_->flush());
  EXPECT_EQ(pump_worker_to_router(2).size(), 2u);
}

TEST_F(RingEndpointTest, GoingToSleepAlsoRingsAWaitingProducer) {
  open(4096);
  for (int i = 0; i < 6; ++i) worker_->send(make_payload(i, 1000));
  ASSERT_GT(worker_->queued(), 0u);
  std::span<const std::byte> v;
  ASSERT_EQ(router_->receive(v, nullptr), ReadStatus::record);
  router_->release();  // one record freed, the ring not yet empty
  EXPECT_FALSE(rung(fds_.worker_bell));
  router_->prepare_sleep();
  EXPECT_TRUE(rung(fds_.worker_bell));
}

// ---------------------------------------------------------------------------------------
// Fragment sequences a correct peer never sends

TEST_F(RingEndpointTest, SingleFragmentWithFirstAndLastIsAPayload) {
  open();
  forge_fragment(kFragFirst | kFragLast, 5, "hello");
  std::string s;
  ASSERT_EQ(receive(s), ReadStatus::record);
  EXPECT_EQ(s, "hello");
}

TEST_F(RingEndpointTest, FragmentWithoutFirst) {
  open();
  forge_fragment(kFragLast, 0, "tail");
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("without a first"), std::string::npos) << why;
}

TEST_F(RingEndpointTest, FragmentsExceedingTheAnnouncedLength) {
  open();
  forge_fragment(kFragFirst, 10, "123456");
  forge_fragment(0, 0, "789012");
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("exceed"), std::string::npos) << why;
}

TEST_F(RingEndpointTest, LastFragmentBeforeTheAnnouncedLength) {
  open();
  forge_fragment(kFragFirst, 10, "123");
  forge_fragment(kFragLast, 0, "456");
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("shorter"), std::string::npos) << why;
}

TEST_F(RingEndpointTest, AnnouncedLengthSmallerThanTheFirstFragment) {
  open();
  forge_fragment(kFragFirst, 2, "123");
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_FALSE(why.empty());
}

TEST_F(RingEndpointTest, SecondFirstFragmentWhileAssembling) {
  open();
  forge_fragment(kFragFirst, 10, "123");
  forge_fragment(kFragFirst, 10, "123");
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("restart"), std::string::npos) << why;
}

TEST_F(RingEndpointTest, WholeRecordInsideAFragmentedPayload) {
  open();
  forge_fragment(kFragFirst, 10, "123");
  ASSERT_TRUE(forge().try_write(RecordKind::data, 0, 0, bytes("intruder")));
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_FALSE(why.empty());
}

TEST_F(RingEndpointTest, AnnouncedLengthAboveTheLimitIsRefusedWithoutAllocating) {
  const std::size_t limit = 64u << 20;
  open(4096, limit);
  forge_fragment(kFragFirst, limit + 1, "x");
  std::string s, why;
  g_largest_alloc.store(0);
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_LT(g_largest_alloc.load(), std::size_t{1} << 20);
  EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

TEST_F(RingEndpointTest, AbsurdAnnouncedLengthIsRefused) {
  open();
  forge_fragment(kFragFirst, std::uint64_t{1} << 62, "x");
  std::string s, why;
  g_largest_alloc.store(0);
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_LT(g_largest_alloc.load(), std::size_t{1} << 20);
}

TEST_F(RingEndpointTest, AnnouncedLengthAtTheLimitIsAccepted) {
  open(4096, 3000);
  std::string p = make_payload(1, 3000);
  worker_->send(p);
  auto got = pump_worker_to_router(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], p);
}

TEST_F(RingEndpointTest, RingCorruptionReachesTheEndpoint) {
  open();
  ASSERT_TRUE(forge().try_write(static_cast<RecordKind>(9), 0, 0, bytes("???")));
  std::string s, why;
  EXPECT_EQ(receive(s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("kind"), std::string::npos) << why;
}

}  // namespace
}  // namespace portal::ipc

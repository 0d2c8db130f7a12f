// A producer killed mid-write. The child writes records through RingProducer; before each
// one it writes that record's header and the first part of its payload straight into the
// ring at the tail slot, byte by byte and without publishing (where a crash leaves a real
// producer: bytes in the ring, tail not yet stored). The parent consumes all the while, then
// has the child stop inside such a write, looping over it, and SIGKILLs it there. The consumer
// must see only whole records, every one verified, and then an empty (not corrupt) ring.
#include <gtest/gtest.h>

#include <sched.h>
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

constexpr std::uint64_t kGeneration = 41;
constexpr std::uint32_t kRingBytes = 256u << 10;

struct Shared {
  std::atomic<std::uint64_t> partial_seq{~0ull};  // record being hand-written, unpublished
  std::atomic<std::uint64_t> partial_bytes{0};    // bytes of it already in the ring
  std::atomic<std::uint64_t> published{0};        // records published so far
  alignas(64) std::atomic<std::uint32_t> freeze{0};  // parent: stop mid-write and keep writing
  std::atomic<std::uint32_t> frozen{0};              // child: I am looping inside a write
};

std::size_t size_of(std::uint64_t seq, std::size_t max) { return test::skewed_size(seq, max); }

// Writes the header and the first half of record `seq` at the tail slot, byte by byte, as a
// producer that has not finished would. Only free space is touched.
void write_unpublished(RingControl& ctl, std::byte* data, std::uint64_t seq, std::size_t size, Shared& shared) {
  const std::uint64_t tail = ctl.tail.load(std::memory_order_relaxed);
  const std::uint64_t head = ctl.head.load(std::memory_order_acquire);
  const std::size_t pos = tail & (kRingBytes - 1);
  std::size_t room = std::min<std::size_t>(kRingBytes - (tail - head), kRingBytes - pos);
  std::string rec(sizeof(RecordHeader) + size / 2, '\0');
  RecordHeader h{static_cast<std::uint32_t>(size), static_cast<std::uint16_t>(RecordKind::data), 0, 0};
  std::memcpy(rec.data(), &h, sizeof h);
  test::fill_payload(reinterpret_cast<std::byte*>(rec.data()) + sizeof h, size / 2, seq);
  std::size_t n = std::min(room, rec.size());
  shared.partial_seq.store(seq, std::memory_order_relaxed);
  auto* ring = reinterpret_cast<volatile std::byte*>(data);
  for (std::size_t i = 0; i < n; ++i) ring[pos + i] = static_cast<std::byte>(rec[i]);
  shared.partial_bytes.store(n, std::memory_order_relaxed);
  if (n > sizeof h && shared.freeze.load(std::memory_order_relaxed)) {
    shared.frozen.store(1);
    for (;;)  // rewriting the same unpublished bytes until the SIGKILL lands
      for (std::size_t i = 0; i < n; ++i) ring[pos + i] = static_cast<std::byte>(rec[i]);
  }
}

int run_producer(const ChannelFds& fds, Shared& shared) {
  auto ch = Channel::map(fds.memfd.get(), Side::worker, kGeneration);
  if (!ch) return child_fail("producer", ch.error().message);
  Channel& c = **ch;
  RingProducer& prod = c.producer();
  std::byte* data = c.base() + kChannelHeaderBytes + kRingBytes;  // worker -> router ring
  const std::size_t max = prod.max_record_payload();
  for (std::uint64_t seq = 0;; ++seq) {
    const std::size_t size = size_of(seq, max);
    std::string payload = test::make_payload(seq, size);
    write_unpublished(c.header()->to_router, data, seq, size, shared);
    while (!prod.try_write(RecordKind::data, 0, 0,
                           {reinterpret_cast<const std::byte*>(payload.data()), payload.size()})) {
      sched_yield();  // full: the parent drains
      write_unpublished(c.header()->to_router, data, seq, size, shared);
    }
    shared.partial_bytes.store(0, std::memory_order_relaxed);
    shared.published.store(seq + 1, std::memory_order_relaxed);
  }
}

struct Drained {
  std::uint64_t records = 0;
  std::string error;
};

// Reads and verifies everything published so far, in order, counting on from `d.records`.
void drain(RingConsumer& cons, std::size_t max, Drained& d) {
  for (;;) {
    RecordView v{};
    std::string why;
    ReadStatus st = cons.peek(v, &why);
    if (st == ReadStatus::empty) return;
    if (st == ReadStatus::corrupt) {
      d.error = "corrupt after " + std::to_string(d.records) + " records: " + why;
      return;
    }
    std::string bad = test::check_payload(v.payload, d.records, size_of(d.records, max));
    if (!bad.empty()) {
      d.error = bad;
      return;
    }
    cons.pop();
    ++d.records;
  }
}

// Parameter: records to consume before the kill (so it lands at different ring positions).
class ProducerCrash : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(ProducerCrash, KilledMidWriteLeavesOnlyWholeRecords) {
  const std::uint64_t records_before_kill = GetParam();
  auto fds = create_channel("portal-test-crash", kRingBytes, kGeneration);
  ASSERT_TRUE(fds) << fds.error().message;
  void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Shared& shared = *new (mem) Shared;
  auto ch = Channel::map(fds->memfd.get(), Side::router, kGeneration);
  ASSERT_TRUE(ch) << ch.error().message;
  Channel& router = **ch;
  RingConsumer& cons = router.consumer();
  const std::size_t max = router.producer().max_record_payload();

  Child producer = Child::spawn([&] { return run_producer(*fds, shared); });

  // Consume while it runs; once enough went through, have it stop inside a write (header
  // and part of the payload in the ring, tail not stored) and kill it there.
  Drained d;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (d.error.empty() && shared.frozen.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    drain(cons, max, d);
    if (d.records >= records_before_kill) shared.freeze.store(1);
    sched_yield();  // the producer may share our core
  }
  ASSERT_EQ(d.error, "");
  ASSERT_EQ(shared.frozen.load(), 1u) << "the producer never stopped mid-write; records " << d.records
                                      << ", published " << shared.published.load();
  producer.kill(SIGKILL);
  EXPECT_EQ(producer.finish(10s), "signal 9");

  // The dead producer's last write is in the ring, beyond the published tail.
  const std::uint64_t tail = router.header()->to_router.tail.load();
  ASSERT_GT(shared.partial_bytes.load(), sizeof(RecordHeader));
  RecordHeader h;
  std::memcpy(&h, router.base() + kChannelHeaderBytes + kRingBytes + (tail & (kRingBytes - 1)), sizeof h);
  EXPECT_EQ(h.kind, static_cast<std::uint16_t>(RecordKind::data));
  EXPECT_EQ(h.length, size_of(shared.partial_seq.load(), max));

  drain(cons, max, d);
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(d.records, shared.published.load());  // everything published, nothing more
  EXPECT_EQ(router.header()->to_router.head.load(), tail);
  RecordView v{};
  EXPECT_EQ(cons.peek(v), ReadStatus::empty);  // and the half-written record stays invisible
  ::munmap(mem, sizeof(Shared));
}

INSTANTIATE_TEST_SUITE_P(AtDifferentPoints, ProducerCrash,
                         ::testing::Values(1, 997, 20'000, 123'457, 400'000));

}  // namespace
}  // namespace portal::ipc

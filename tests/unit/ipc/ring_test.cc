// RingProducer/RingConsumer in one process, on a ring in ordinary memory: record layout,
// pad records, implicit wrap, backpressure, the sleep flags, and hostile ring contents.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ipc/ring.h"

namespace portal::ipc {
namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A ring in process memory. The counters may start anywhere (`start`), which puts the
// first record at any slot without writing records to get there.
struct LocalRing {
  explicit LocalRing(std::size_t cap, std::uint64_t start = 0) : capacity(cap), storage(cap / 8, kSentinel) {
    control.tail.store(start);
    control.head.store(start);
    control.producer_waiting.store(0);
    control.consumer_sleeping.store(0);
  }
  static constexpr std::uint64_t kSentinel = 0xababababababababull;

  std::byte* data() { return reinterpret_cast<std::byte*>(storage.data()); }
  RingProducer producer() { return RingProducer(&control, data(), capacity); }
  RingConsumer consumer() { return RingConsumer(&control, data(), capacity); }
  RecordHeader header_at(std::size_t pos) {
    RecordHeader h;
    std::memcpy(&h, data() + pos, sizeof h);
    return h;
  }
  void put_header(std::size_t pos, std::uint32_t length, std::uint16_t kind, std::uint16_t flags = 0,
                  std::uint64_t aux = 0) {
    RecordHeader h{length, kind, flags, aux};
    std::memcpy(data() + pos, &h, sizeof h);
  }

  RingControl control{};
  std::size_t capacity;
  std::vector<std::uint64_t> storage;
};

ReadStatus read_one(RingConsumer& c, std::string& out, RecordView* view = nullptr, std::string* why = nullptr) {
  RecordView v{};
  ReadStatus st = c.peek(v, why);
  if (st == ReadStatus::record) {
    out = text(v.payload);
    if (view) *view = v;
    c.pop();
  }
  return st;
}

// ---------------------------------------------------------------------------------------
// Layout

TEST(RingLayout, HeaderAndControlOffsets) {
  // docs/PROTOCOL.md draws these; a change here is a wire change.
  EXPECT_EQ(offsetof(RecordHeader, length), 0u);
  EXPECT_EQ(offsetof(RecordHeader, kind), 4u);
  EXPECT_EQ(offsetof(RecordHeader, flags), 6u);
  EXPECT_EQ(offsetof(RecordHeader, aux), 8u);
  EXPECT_EQ(sizeof(RecordHeader), 16u);
  EXPECT_EQ(offsetof(RingControl, tail), 0u);
  EXPECT_EQ(offsetof(RingControl, producer_waiting), 8u);
  EXPECT_EQ(offsetof(RingControl, head), 64u);
  EXPECT_EQ(offsetof(RingControl, consumer_sleeping), 72u);
  EXPECT_EQ(sizeof(RingControl), 128u);
  EXPECT_EQ(static_cast<int>(RecordKind::data), 1);
  EXPECT_EQ(static_cast<int>(RecordKind::fragment), 2);
  EXPECT_EQ(static_cast<int>(RecordKind::pad), 3);
  EXPECT_EQ(kFragFirst, 1);
  EXPECT_EQ(kFragLast, 2);
}

TEST(RingLayout, AlignRecord) {
  EXPECT_EQ(align_record(0), 0u);
  EXPECT_EQ(align_record(1), 8u);
  EXPECT_EQ(align_record(16), 16u);
  EXPECT_EQ(align_record(17), 24u);
  EXPECT_EQ(align_record(23), 24u);
}

// ---------------------------------------------------------------------------------------
// Producer and consumer

TEST(Ring, RoundTripKeepsKindFlagsAuxAndPayload) {
  LocalRing r(4096);
  auto p = r.producer();
  auto c = r.consumer();
  EXPECT_TRUE(c.empty());
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("hello")));
  ASSERT_TRUE(p.try_write(RecordKind::fragment, kFragFirst, 12345, bytes("frag")));
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, {}));
  EXPECT_FALSE(c.empty());

  RecordView v{};
  std::string got;
  ASSERT_EQ(read_one(c, got, &v), ReadStatus::record);
  EXPECT_EQ(got, "hello");
  EXPECT_EQ(v.kind, RecordKind::data);
  EXPECT_EQ(v.flags, 0);
  EXPECT_EQ(v.aux, 0u);
  ASSERT_EQ(read_one(c, got, &v), ReadStatus::record);
  EXPECT_EQ(got, "frag");
  EXPECT_EQ(v.kind, RecordKind::fragment);
  EXPECT_EQ(v.flags, kFragFirst);
  EXPECT_EQ(v.aux, 12345u);
  ASSERT_EQ(read_one(c, got, &v), ReadStatus::record);
  EXPECT_EQ(got, "");
  EXPECT_EQ(read_one(c, got), ReadStatus::empty);
  EXPECT_TRUE(c.empty());
}

TEST(Ring, RecordsAreHeaderPlusPayloadAlignedToEight) {
  LocalRing r(4096);
  auto p = r.producer();
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("12345")));
  EXPECT_EQ(r.control.tail.load(), 24u);  // 16 + 5 -> 24
  RecordHeader h = r.header_at(0);
  EXPECT_EQ(h.length, 5u);
  EXPECT_EQ(h.kind, static_cast<std::uint16_t>(RecordKind::data));
  EXPECT_EQ(std::memcmp(r.data() + 16, "12345", 5), 0);
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, {}));
  EXPECT_EQ(r.control.tail.load(), 40u);  // an empty record is a bare header
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("12345678")));
  EXPECT_EQ(r.control.tail.load(), 64u);
}

TEST(Ring, PeekWithoutPopShowsTheSameRecordAndPopPublishesHead) {
  LocalRing r(4096);
  auto p = r.producer();
  auto c = r.consumer();
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("a")));
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("b")));
  RecordView v{};
  ASSERT_EQ(c.peek(v), ReadStatus::record);
  ASSERT_EQ(c.peek(v), ReadStatus::record);
  EXPECT_EQ(text(v.payload), "a");
  EXPECT_EQ(r.control.head.load(), 0u);  // nothing released yet
  c.pop();
  EXPECT_EQ(r.control.head.load(), 24u);
  ASSERT_EQ(c.peek(v), ReadStatus::record);
  EXPECT_EQ(text(v.payload), "b");
}

TEST(Ring, TwoPartWriteConcatenates) {
  LocalRing r(4096);
  auto p = r.producer();
  auto c = r.consumer();
  ASSERT_TRUE(p.try_write2(RecordKind::data, 0, 0, bytes("head:"), bytes("body")));
  ASSERT_TRUE(p.try_write2(RecordKind::data, 0, 0, {}, bytes("only-b")));
  std::string got;
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  EXPECT_EQ(got, "head:body");
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  EXPECT_EQ(got, "only-b");
}

TEST(Ring, PadRecordFillsTheEndWhenAHeaderStillFits) {
  LocalRing r(4096, 4056);  // 40 bytes to the end
  auto p = r.producer();
  auto c = r.consumer();
  std::string payload(32, 'x');  // needs 48 > 40
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(payload)));
  RecordHeader pad = r.header_at(4056);
  EXPECT_EQ(pad.kind, static_cast<std::uint16_t>(RecordKind::pad));
  EXPECT_EQ(pad.length, 40u - 16u);
  RecordHeader rec = r.header_at(0);
  EXPECT_EQ(rec.kind, static_cast<std::uint16_t>(RecordKind::data));
  EXPECT_EQ(rec.length, 32u);
  EXPECT_EQ(r.control.tail.load(), 4056u + 40 + 48);

  std::string got;
  ASSERT_EQ(read_one(c, got), ReadStatus::record);  // the pad is skipped
  EXPECT_EQ(got, payload);
  EXPECT_EQ(r.control.head.load(), r.control.tail.load());
}

TEST(Ring, FewerThanSixteenBytesLeftIsAnImplicitWrap) {
  LocalRing r(4096, 4088);  // 8 bytes to the end: no room for a header
  auto p = r.producer();
  auto c = r.consumer();
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("wrapped")));
  std::uint64_t untouched;
  std::memcpy(&untouched, r.data() + 4088, 8);
  EXPECT_EQ(untouched, LocalRing::kSentinel);  // nothing written in the last 8 bytes
  EXPECT_EQ(r.header_at(0).length, 7u);
  EXPECT_EQ(r.control.tail.load(), 4088u + 8 + 24);

  std::string got;
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  EXPECT_EQ(got, "wrapped");
  EXPECT_EQ(r.control.head.load(), 4088u + 8 + 24);
}

TEST(Ring, RecordEndingExactlyAtTheEndNeedsNoPad) {
  LocalRing r(4096, 4048);  // 48 bytes left
  auto p = r.producer();
  auto c = r.consumer();
  std::string payload(32, 'y');  // 48 bytes
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(payload)));
  EXPECT_EQ(r.header_at(4048).kind, static_cast<std::uint16_t>(RecordKind::data));
  EXPECT_EQ(r.control.tail.load(), 4096u);
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("next")));  // starts at slot 0
  EXPECT_EQ(r.header_at(0).length, 4u);
  std::string got;
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  EXPECT_EQ(got, payload);
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  EXPECT_EQ(got, "next");
}

TEST(Ring, MaxRecordPayloadIsAQuarterMinusTheHeader) {
  LocalRing r(4096);
  auto p = r.producer();
  EXPECT_EQ(p.capacity(), 4096u);
  EXPECT_EQ(p.max_record_payload(), 4096u / 4 - 16);
  std::string max(p.max_record_payload(), 'm');
  std::string over(p.max_record_payload() + 1, 'o');
  EXPECT_FALSE(p.try_write(RecordKind::data, 0, 0, bytes(over)));
  EXPECT_EQ(r.control.tail.load(), 0u);
  EXPECT_FALSE(p.try_write2(RecordKind::data, 0, 0, bytes(max), bytes("z")));
  EXPECT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(max)));
}

TEST(Ring, FullRingRefusesWithoutWritingAndRecoversAfterPop) {
  LocalRing r(4096);
  auto p = r.producer();
  auto c = r.consumer();
  std::string big(p.max_record_payload(), 'b');  // 1024 bytes per record
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(p.can_write(big.size()));
    ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(big))) << i;
  }
  EXPECT_EQ(r.control.tail.load(), 4096u);
  EXPECT_FALSE(p.can_write(0));
  auto before = r.storage;
  EXPECT_FALSE(p.try_write(RecordKind::data, 0, 0, {}));
  EXPECT_FALSE(p.try_write(RecordKind::data, 0, 0, bytes(big)));
  EXPECT_EQ(r.control.tail.load(), 4096u);
  EXPECT_EQ(r.storage, before);  // a refused write touches nothing

  std::string got;
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  EXPECT_TRUE(p.can_write(big.size()));
  EXPECT_FALSE(p.can_write(big.size() + 8));
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(big)));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(read_one(c, got), ReadStatus::record) << i;
  EXPECT_EQ(read_one(c, got), ReadStatus::empty);
}

TEST(Ring, CanWriteCountsThePadBeforeTheRecord) {
  // head = 80, tail = 4072: 104 bytes free, of which only 24 before the ring's end.
  LocalRing r(4096);
  r.control.head.store(80);
  r.control.tail.store(4072);
  auto p = r.producer();
  EXPECT_TRUE(p.can_write(64));   // 80 + 24 pad = 104
  EXPECT_FALSE(p.can_write(80));  // 96 + 24 pad = 120 > 104, although 96 <= 104
  EXPECT_FALSE(p.try_write(RecordKind::data, 0, 0, bytes(std::string(80, 'q'))));
  EXPECT_EQ(r.control.tail.load(), 4072u);
  EXPECT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(std::string(64, 'q'))));
  EXPECT_EQ(r.control.tail.load(), 4072u + 24 + 80);
  EXPECT_EQ(r.control.tail.load() - r.control.head.load(), 4096u);
}

TEST(Ring, CountersKeepWorkingAcrossTheSixtyFourBitWrap) {
  const std::uint64_t start = std::numeric_limits<std::uint64_t>::max() - 63;  // slot 4032
  LocalRing r(4096, start);
  auto p = r.producer();
  auto c = r.consumer();
  for (int round = 0; round < 200; ++round) {
    std::string payload = "record-" + std::to_string(round) + std::string(round % 50, '.');
    ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes(payload))) << round;
    std::string got;
    ASSERT_EQ(read_one(c, got), ReadStatus::record) << round;
    ASSERT_EQ(got, payload);
  }
  EXPECT_LT(r.control.tail.load(), start);  // it did wrap
  EXPECT_EQ(r.control.tail.load(), r.control.head.load());
}

TEST(Ring, ConsumerAttachingLaterResumesAtHead) {
  LocalRing r(4096);
  auto p = r.producer();
  {
    auto c = r.consumer();
    ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("one")));
    ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("two")));
    std::string got;
    ASSERT_EQ(read_one(c, got), ReadStatus::record);
  }
  auto c2 = r.consumer();
  std::string got;
  ASSERT_EQ(read_one(c2, got), ReadStatus::record);
  EXPECT_EQ(got, "two");
  auto p2 = r.producer();  // a producer attaching later continues at tail
  ASSERT_TRUE(p2.try_write(RecordKind::data, 0, 0, bytes("three")));
  ASSERT_EQ(read_one(c2, got), ReadStatus::record);
  EXPECT_EQ(got, "three");
}

// ---------------------------------------------------------------------------------------
// Sleep flags

TEST(RingSleep, ConsumerSleepsOnlyWhenEmptyAndProducerTakesTheFlagOnce) {
  LocalRing r(4096);
  auto p = r.producer();
  auto c = r.consumer();
  ASSERT_TRUE(c.prepare_sleep());
  EXPECT_EQ(r.control.consumer_sleeping.load(), 1u);
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("wake")));
  EXPECT_TRUE(p.take_consumer_sleeping());
  EXPECT_EQ(r.control.consumer_sleeping.load(), 0u);
  EXPECT_FALSE(p.take_consumer_sleeping());  // one wake-up per sleep

  EXPECT_FALSE(c.prepare_sleep());  // data is there: do not sleep, flag stays clear
  EXPECT_EQ(r.control.consumer_sleeping.load(), 0u);
  std::string got;
  ASSERT_EQ(read_one(c, got), ReadStatus::record);
  ASSERT_TRUE(c.prepare_sleep());
  c.woke();
  EXPECT_EQ(r.control.consumer_sleeping.load(), 0u);
  EXPECT_FALSE(p.take_consumer_sleeping());
}

TEST(RingSleep, ProducerWaitingIsTakenOnce) {
  LocalRing r(4096);
  auto p = r.producer();
  auto c = r.consumer();
  EXPECT_FALSE(c.take_producer_waiting());
  p.set_producer_waiting();
  EXPECT_EQ(r.control.producer_waiting.load(), 1u);
  EXPECT_TRUE(c.take_producer_waiting());
  EXPECT_FALSE(c.take_producer_waiting());
}

// ---------------------------------------------------------------------------------------
// Hostile contents: what a broken or malicious producer can put in shared memory.

ReadStatus peek_raw(LocalRing& r, std::string& why) {
  auto c = r.consumer();
  RecordView v{};
  return c.peek(v, &why);
}

TEST(RingCorrupt, LengthBeyondPublishedData) {
  LocalRing r(4096);
  r.put_header(0, 100, 1);
  r.control.tail.store(32);  // only 32 bytes published, the record claims 120
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_NE(why.find("length"), std::string::npos) << why;
}

TEST(RingCorrupt, LengthBeyondTheRingsEnd) {
  LocalRing r(4096, 4000);
  r.put_header(4000, 200, 1);  // would run past slot 4096
  r.control.tail.store(4000 + 1024);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_FALSE(why.empty());
}

TEST(RingCorrupt, HugeLengthDoesNotOverflow) {
  LocalRing r(4096);
  r.put_header(0, 0xffffffffu, 1);
  r.control.tail.store(4096);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_FALSE(why.empty());
}

TEST(RingCorrupt, UnknownKind) {
  for (std::uint16_t kind : {0, 4, 0xffff}) {
    LocalRing r(4096);
    r.put_header(0, 8, kind);
    r.control.tail.store(24);
    std::string why;
    EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt) << kind;
    EXPECT_NE(why.find("kind"), std::string::npos) << why;
  }
}

TEST(RingCorrupt, TailBeyondCapacity) {
  LocalRing r(4096);
  r.put_header(0, 8, 1);
  r.control.tail.store(4096 + 8);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_NE(why.find("tail"), std::string::npos) << why;
}

TEST(RingCorrupt, TailBehindHead) {
  LocalRing r(4096, 1024);
  r.control.tail.store(1016);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_FALSE(why.empty());
}

TEST(RingCorrupt, UnalignedTail) {
  LocalRing r(4096);
  r.put_header(0, 0, 1);
  r.control.tail.store(20);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_FALSE(why.empty());
}

TEST(RingCorrupt, PartialHeader) {
  LocalRing r(4096);
  r.control.tail.store(8);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_NE(why.find("header"), std::string::npos) << why;
}

TEST(RingCorrupt, PadThatDoesNotReachTheEnd) {
  LocalRing r(4096);
  r.put_header(0, 16, static_cast<std::uint16_t>(RecordKind::pad));  // a 32-byte pad at slot 0
  r.put_header(32, 0, 1);
  r.control.tail.store(48);
  std::string why;
  EXPECT_EQ(peek_raw(r, why), ReadStatus::corrupt);
  EXPECT_NE(why.find("pad"), std::string::npos) << why;
}

TEST(RingCorrupt, ConsumerNeverReadsPastTheLastGoodRecord) {
  LocalRing r(4096);
  auto p = r.producer();
  ASSERT_TRUE(p.try_write(RecordKind::data, 0, 0, bytes("good")));
  r.put_header(24, 5000, 1);  // the next one is garbage
  r.control.tail.store(24 + 64);
  auto c = r.consumer();
  std::string got, why;
  ASSERT_EQ(read_one(c, got, nullptr, &why), ReadStatus::record);
  EXPECT_EQ(got, "good");
  EXPECT_EQ(read_one(c, got, nullptr, &why), ReadStatus::corrupt);
  EXPECT_EQ(r.control.head.load(), 24u);  // head stays before the bad record
}

}  // namespace
}  // namespace portal::ipc

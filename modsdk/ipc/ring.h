// Single-producer/single-consumer byte ring in shared memory (DESIGN.md 3, docs/PROTOCOL.md).
//
// Indices are monotonically increasing 64-bit byte counters; the slot of a counter is
// `counter & (capacity - 1)`. Records are 8-byte aligned: a 16-byte RecordHeader then the
// payload. A record is published by a release-store of `tail`, so a producer that dies
// mid-write leaves nothing half-visible. Nothing here holds a pointer into shared memory
// that another process could see.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace portal::ipc {

inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kRecordAlign = 8;

enum class RecordKind : std::uint16_t {
  data = 1,      // one whole payload
  fragment = 2,  // a piece of a payload larger than max_record_payload()
  pad = 3,       // filler to the end of the ring; skip
};

enum RecordFlags : std::uint16_t {
  kFragFirst = 1,
  kFragLast = 2,
};

struct RecordHeader {
  std::uint32_t length;  // payload bytes (the record occupies align8(16 + length))
  std::uint16_t kind;
  std::uint16_t flags;
  std::uint64_t aux;  // first fragment: total payload length; otherwise 0
};
static_assert(sizeof(RecordHeader) == 16);

// Control words of one ring; lives in the channel header, producer and consumer fields on
// separate cache lines.
struct alignas(kCacheLine) RingControl {
  alignas(kCacheLine) std::atomic<std::uint64_t> tail;  // written by the producer
  std::atomic<std::uint32_t> producer_waiting;          // producer queued data: ring my doorbell on space
  alignas(kCacheLine) std::atomic<std::uint64_t> head;  // written by the consumer
  std::atomic<std::uint32_t> consumer_sleeping;         // consumer about to block: ring its doorbell
};
static_assert(sizeof(RingControl) == 2 * kCacheLine);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

inline constexpr std::size_t align_record(std::size_t n) {
  return (n + kRecordAlign - 1) & ~(kRecordAlign - 1);
}

enum class ReadStatus { record, empty, corrupt };

// A view of one record that stays valid until pop().
struct RecordView {
  RecordKind kind;
  std::uint16_t flags;
  std::uint64_t aux;
  std::span<const std::byte> payload;
};

class RingProducer {
 public:
  RingProducer() = default;
  RingProducer(RingControl* control, std::byte* data, std::size_t capacity);

  // Largest payload of one record; bigger payloads go as fragments (see FramedWriter).
  std::size_t max_record_payload() const { return capacity_ / 4 - sizeof(RecordHeader); }
  std::size_t capacity() const { return capacity_; }
  // Bytes a record with `payload` bytes needs, padding to the ring's end included.
  bool can_write(std::size_t payload) const;
  // Writes and publishes one record; false (nothing written) when the ring is full.
  bool try_write(RecordKind kind, std::uint16_t flags, std::uint64_t aux,
                 std::span<const std::byte> payload);
  // Two-part payload (a small prefix then a body) without concatenating first.
  bool try_write2(RecordKind kind, std::uint16_t flags, std::uint64_t aux,
                  std::span<const std::byte> a, std::span<const std::byte> b);
  // After publishing: true when the consumer was asleep and must be woken (clears the flag).
  bool take_consumer_sleeping();
  void set_producer_waiting();
  RingControl* control() const { return control_; }

 private:
  RingControl* control_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::uint64_t tail_ = 0;          // local copy of what we published
  std::uint64_t head_cache_ = 0;    // last head we read
};

class RingConsumer {
 public:
  RingConsumer() = default;
  RingConsumer(RingControl* control, const std::byte* data, std::size_t capacity);

  // Looks at the next record, skipping pad records. `corrupt` means the producer wrote
  // something no correct producer writes (length beyond the published data, unknown kind):
  // the channel must be dropped.
  ReadStatus peek(RecordView& out, std::string* why = nullptr);
  void pop();  // releases the record last returned by peek()
  bool empty() const;
  // Consumer sleep protocol: call prepare_sleep(); if it returns true, block on the
  // doorbell, then call woke(). It returns false when data arrived in between.
  bool prepare_sleep();
  void woke();
  // After consuming: true when the producer is waiting for space (clears the flag).
  bool take_producer_waiting();
  RingControl* control() const { return control_; }

 private:
  RingControl* control_ = nullptr;
  const std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t pending_end_ = 0;  // head after pop() of the peeked record
  std::uint64_t tail_cache_ = 0;
};

}  // namespace portal::ipc

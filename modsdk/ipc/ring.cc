#include "ipc/ring.h"

#include <cstring>

namespace portal::ipc {

namespace {

std::uint64_t slot(std::uint64_t counter, std::size_t capacity) {
  return counter & (capacity - 1);
}

}  // namespace

RingProducer::RingProducer(RingControl* control, std::byte* data, std::size_t capacity)
    : control_(control), data_(data), capacity_(capacity) {
  tail_ = control_->tail.load(std::memory_order_relaxed);
  head_cache_ = control_->head.load(std::memory_order_acquire);
}

bool RingProducer::can_write(std::size_t payload) const {
  std::size_t need = align_record(sizeof(RecordHeader) + payload);
  std::size_t to_end = capacity_ - slot(tail_, capacity_);
  if (need > to_end) need += to_end;  // a pad record (or implicit wrap) first
  std::uint64_t head = control_->head.load(std::memory_order_acquire);
  return need <= capacity_ - (tail_ - head);
}

bool RingProducer::try_write(RecordKind kind, std::uint16_t flags, std::uint64_t aux,
                             std::span<const std::byte> payload) {
  return try_write2(kind, flags, aux, payload, {});
}

bool RingProducer::try_write2(RecordKind kind, std::uint16_t flags, std::uint64_t aux,
                              std::span<const std::byte> a, std::span<const std::byte> b) {
  std::size_t payload = a.size() + b.size();
  if (payload > max_record_payload()) return false;
  std::size_t need = align_record(sizeof(RecordHeader) + payload);
  std::size_t pos = slot(tail_, capacity_);
  std::size_t to_end = capacity_ - pos;
  std::size_t pad = need > to_end ? to_end : 0;
  if (need + pad > capacity_ - (tail_ - head_cache_)) {
    head_cache_ = control_->head.load(std::memory_order_acquire);
    if (need + pad > capacity_ - (tail_ - head_cache_)) return false;
  }
  if (pad != 0) {
    // Fewer than a header's bytes left means an implicit wrap; otherwise a pad record.
    if (pad >= sizeof(RecordHeader)) {
      RecordHeader h{static_cast<std::uint32_t>(pad - sizeof(RecordHeader)),
                     static_cast<std::uint16_t>(RecordKind::pad), 0, 0};
      std::memcpy(data_ + pos, &h, sizeof h);
    }
    tail_ += pad;
    pos = 0;
  }
  RecordHeader h{static_cast<std::uint32_t>(payload), static_cast<std::uint16_t>(kind), flags, aux};
  std::memcpy(data_ + pos, &h, sizeof h);
  if (!a.empty()) std::memcpy(data_ + pos + sizeof h, a.data(), a.size());
  if (!b.empty()) std::memcpy(data_ + pos + sizeof h + a.size(), b.data(), b.size());
  tail_ += need;
  control_->tail.store(tail_, std::memory_order_release);
  return true;
}

bool RingProducer::take_consumer_sleeping() {
  // Pairs with the fence in RingConsumer::prepare_sleep(): either the consumer sees our
  // tail, or we see its flag.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (control_->consumer_sleeping.load(std::memory_order_relaxed) == 0) return false;
  return control_->consumer_sleeping.exchange(0, std::memory_order_acq_rel) != 0;
}

void RingProducer::set_producer_waiting() {
  control_->producer_waiting.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

RingConsumer::RingConsumer(RingControl* control, const std::byte* data, std::size_t capacity)
    : control_(control), data_(data), capacity_(capacity) {
  head_ = control_->head.load(std::memory_order_relaxed);
  pending_end_ = head_;
  tail_cache_ = control_->tail.load(std::memory_order_acquire);
}

bool RingConsumer::empty() const {
  return control_->tail.load(std::memory_order_acquire) == head_;
}

ReadStatus RingConsumer::peek(RecordView& out, std::string* why) {
  auto fail = [&](const char* text) {
    if (why) *why = text;
    return ReadStatus::corrupt;
  };
  for (;;) {
    if (tail_cache_ == head_) {
      tail_cache_ = control_->tail.load(std::memory_order_acquire);
      if (tail_cache_ == head_) return ReadStatus::empty;
    }
    std::uint64_t avail = tail_cache_ - head_;
    if (avail > capacity_ || (avail & (kRecordAlign - 1)) != 0) return fail("tail out of range");
    std::size_t pos = slot(head_, capacity_);
    std::size_t to_end = capacity_ - pos;
    if (to_end < sizeof(RecordHeader)) {  // implicit wrap
      if (avail < to_end) return fail("implicit wrap beyond tail");
      head_ += to_end;
      control_->head.store(head_, std::memory_order_release);
      continue;
    }
    if (avail < sizeof(RecordHeader)) return fail("partial header");
    RecordHeader h;
    std::memcpy(&h, data_ + pos, sizeof h);
    std::size_t size = align_record(sizeof(RecordHeader) + std::size_t{h.length});
    if (h.length > capacity_ || size > to_end || size > avail) return fail("record length beyond published data");
    if (h.kind == static_cast<std::uint16_t>(RecordKind::pad)) {
      if (size != to_end) return fail("pad record does not end at the ring's end");
      head_ += size;
      control_->head.store(head_, std::memory_order_release);
      continue;
    }
    if (h.kind != static_cast<std::uint16_t>(RecordKind::data) &&
        h.kind != static_cast<std::uint16_t>(RecordKind::fragment))
      return fail("unknown record kind");
    out.kind = static_cast<RecordKind>(h.kind);
    out.flags = h.flags;
    out.aux = h.aux;
    out.payload = {data_ + pos + sizeof(RecordHeader), h.length};
    pending_end_ = head_ + size;
    return ReadStatus::record;
  }
}

void RingConsumer::pop() {
  head_ = pending_end_;
  control_->head.store(head_, std::memory_order_release);
}

bool RingConsumer::prepare_sleep() {
  control_->consumer_sleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (control_->tail.load(std::memory_order_acquire) != head_) {
    control_->consumer_sleeping.store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void RingConsumer::woke() { control_->consumer_sleeping.store(0, std::memory_order_relaxed); }

bool RingConsumer::take_producer_waiting() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (control_->producer_waiting.load(std::memory_order_relaxed) == 0) return false;
  return control_->producer_waiting.exchange(0, std::memory_order_acq_rel) != 0;
}

}  // namespace portal::ipc

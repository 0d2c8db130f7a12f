// A bounded per-subscriber delivery queue. The router's single loop pushes events for a
// subscriber here and a sender drains it toward the subscriber's worker or client as that
// link accepts data; a slow subscriber therefore never stalls the emitter or the loop.
//
// Drop policy: drop OLDEST. When an event does not fit, queued events are dropped from the
// front until it does, so a subscriber that catches up sees the most recent events (for
// state-change events the latest value is the useful one). An event larger than the whole
// byte budget is itself dropped. Every dropped event is counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace portal::events {

struct QueuedEvent {
  std::string path;
  std::string body;
  std::uint64_t trace_id = 0;
  std::uint64_t subscription = 0;  // the subscriber's own id for the subscription it matched
  std::size_t cost() const { return path.size() + body.size(); }
};

struct QueueLimits {
  std::size_t max_events = 1024;
  std::size_t max_bytes = 4u << 20;  // 4 MiB of path + body
};

class DeliveryQueue {
 public:
  explicit DeliveryQueue(QueueLimits limits = {}) : limits_(limits) {}

  // Never blocks. Returns false when `ev` itself was dropped (larger than max_bytes or
  // a zero capacity); older events dropped to make room are counted in dropped().
  bool push(QueuedEvent ev) {
    if (limits_.max_events == 0 || ev.cost() > limits_.max_bytes) {
      ++dropped_;
      return false;
    }
    while (!q_.empty() &&
           (q_.size() >= limits_.max_events || bytes_ + ev.cost() > limits_.max_bytes)) {
      bytes_ -= q_.front().cost();
      q_.pop_front();
      ++dropped_;
    }
    bytes_ += ev.cost();
    q_.push_back(std::move(ev));
    return true;
  }

  // Takes up to `max_events` events and about `max_bytes` (always at least one event
  // when the queue is not empty, so an event bigger than max_bytes still goes out).
  std::vector<QueuedEvent> pop_batch(std::size_t max_events = SIZE_MAX,
                                     std::size_t max_bytes = SIZE_MAX) {
    std::vector<QueuedEvent> out;
    std::size_t taken = 0;
    while (!q_.empty() && out.size() < max_events) {
      std::size_t c = q_.front().cost();
      if (!out.empty() && taken + c > max_bytes) break;
      taken += c;
      bytes_ -= c;
      out.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    return out;
  }

  std::size_t size() const { return q_.size(); }
  std::size_t bytes() const { return bytes_; }
  bool empty() const { return q_.empty(); }
  std::uint64_t dropped() const { return dropped_; }
  const QueueLimits& limits() const { return limits_; }

 private:
  QueueLimits limits_;
  std::deque<QueuedEvent> q_;
  std::size_t bytes_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace portal::events

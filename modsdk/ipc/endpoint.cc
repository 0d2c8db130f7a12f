#include "ipc/endpoint.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace portal::ipc {

namespace {

std::span<const std::byte> bytes_of(const std::string& s, std::size_t off, std::size_t n) {
  return {reinterpret_cast<const std::byte*>(s.data()) + off, n};
}

}  // namespace

RingEndpoint::RingEndpoint(std::unique_ptr<Channel> channel, UniqueFd my_bell, UniqueFd peer_bell,
                           std::size_t max_message)
    : channel_(std::move(channel)),
      my_bell_(std::move(my_bell)),
      peer_bell_(std::move(peer_bell)),
      max_message_(max_message) {
  // woke() then costs one read(), never a poll() first; callers wait with poll/epoll.
  Doorbell::set_nonblocking(my_bell_.get());
}

bool RingEndpoint::write_some(Pending& p) {
  RingProducer& prod = channel_->producer();
  const std::size_t max = prod.max_record_payload();
  if (p.offset == 0 && p.payload.size() <= max) {
    if (!prod.try_write(RecordKind::data, 0, 0, bytes_of(p.payload, 0, p.payload.size()))) return false;
    wrote_ = true;
    return true;
  }
  while (p.offset < p.payload.size()) {
    std::size_t n = std::min(max, p.payload.size() - p.offset);
    std::uint16_t flags = 0;
    if (p.offset == 0) flags |= kFragFirst;
    if (p.offset + n == p.payload.size()) flags |= kFragLast;
    std::uint64_t aux = p.offset == 0 ? p.payload.size() : 0;
    if (!prod.try_write(RecordKind::fragment, flags, aux, bytes_of(p.payload, p.offset, n))) return false;
    wrote_ = true;
    p.offset += n;
  }
  return true;
}

void RingEndpoint::send(std::string payload) {
  const bool was_empty = queue_.empty();
  queue_.push_back(Pending{std::move(payload), 0});
  // flush() sets "producer waiting" and then looks once more: a consumer that drained the
  // ring between our failed write and the flag would otherwise never ring us (lost wake-up).
  if (was_empty) flush();
}

bool RingEndpoint::flush() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    while (!queue_.empty() && write_some(queue_.front())) queue_.pop_front();
    if (queue_.empty()) return true;
    // Ask the consumer to ring us when it frees space, then look once more: it may have
    // drained everything before it saw the flag.
    channel_->producer().set_producer_waiting();
  }
  return queue_.empty();
}

void RingEndpoint::notify() {
  if (!wrote_) return;
  wrote_ = false;
  if (channel_->producer().take_consumer_sleeping()) Doorbell::ring(peer_bell_.get());
}

ReadStatus RingEndpoint::receive(std::span<const std::byte>& out, std::string* why) {
  RingConsumer& cons = channel_->consumer();
  for (;;) {
    RecordView rec;
    ReadStatus st = cons.peek(rec, why);
    if (st == ReadStatus::corrupt) return st;
    if (st == ReadStatus::empty) {
      if (cons.take_producer_waiting()) Doorbell::ring(peer_bell_.get());
      return st;
    }
    if (rec.kind == RecordKind::data) {
      if (assembling_) {
        if (why) *why = "whole record inside a fragmented payload";
        return ReadStatus::corrupt;
      }
      out = rec.payload;
      held_ = Held::record;
      return ReadStatus::record;
    }
    // Fragment.
    if (rec.flags & kFragFirst) {
      if (assembling_ || rec.aux > max_message_ || rec.aux < rec.payload.size()) {
        if (why) *why = assembling_ ? "fragment restart" : "fragmented payload too large";
        return ReadStatus::corrupt;
      }
      assembling_ = true;
      assembly_total_ = rec.aux;
      assembly_.clear();
      assembly_.reserve(rec.aux);
    } else if (!assembling_) {
      if (why) *why = "fragment without a first fragment";
      return ReadStatus::corrupt;
    }
    if (assembly_.size() + rec.payload.size() > assembly_total_) {
      if (why) *why = "fragments exceed the announced length";
      return ReadStatus::corrupt;
    }
    assembly_.append(reinterpret_cast<const char*>(rec.payload.data()), rec.payload.size());
    bool last = rec.flags & kFragLast;
    cons.pop();
    if (last) {
      if (assembly_.size() != assembly_total_) {
        if (why) *why = "fragments shorter than the announced length";
        return ReadStatus::corrupt;
      }
      assembling_ = false;
      out = bytes_of(assembly_, 0, assembly_.size());
      held_ = Held::assembled;
      return ReadStatus::record;
    }
  }
}

void RingEndpoint::release() {
  if (held_ == Held::record) channel_->consumer().pop();
  if (held_ == Held::assembled) std::string().swap(assembly_);
  held_ = Held::none;
}

bool RingEndpoint::prepare_sleep() {
  RingConsumer& cons = channel_->consumer();
  if (cons.take_producer_waiting()) Doorbell::ring(peer_bell_.get());
  return cons.prepare_sleep();
}

void RingEndpoint::woke() {
  Doorbell::drain_nonblocking(my_bell_.get());
  channel_->consumer().woke();
}

// ---------------------------------------------------------------------------------------

SocketEndpoint::SocketEndpoint(UniqueFd socket, std::size_t max_message)
    : fd_(std::move(socket)), max_message_(max_message) {}

void SocketEndpoint::send(std::string payload) {
  std::uint32_t n = static_cast<std::uint32_t>(payload.size());
  out_.append(reinterpret_cast<const char*>(&n), sizeof n);
  out_.append(payload);
  flush();
}

bool SocketEndpoint::flush() {
  while (out_off_ < out_.size()) {
    ssize_t w = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;  // EAGAIN (retried on the next wake) or a dead peer
    }
    out_off_ += static_cast<std::size_t>(w);
  }
  out_.clear();
  out_off_ = 0;
  return true;
}

bool SocketEndpoint::frame_ready() const {
  std::size_t avail = in_.size() - in_off_;
  if (avail < 4) return false;
  std::uint32_t n;
  std::memcpy(&n, in_.data() + in_off_, 4);
  return avail >= 4 + std::size_t{n};
}

ReadStatus SocketEndpoint::receive(std::span<const std::byte>& out, std::string* why) {
  if (!frame_ready()) {
    if (in_off_ > 0) {
      in_.erase(0, in_off_);
      in_off_ = 0;
    }
    char buf[65536];
    for (;;) {
      ssize_t r = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) {
        in_.append(buf, static_cast<std::size_t>(r));
        if (frame_ready()) break;
        continue;
      }
      if (r == 0) eof_ = true;
      if (r < 0 && errno == EINTR) continue;
      break;
    }
  }
  if (in_.size() - in_off_ >= 4) {
    std::uint32_t n;
    std::memcpy(&n, in_.data() + in_off_, 4);
    if (n > max_message_) {
      if (why) *why = "frame too large";
      return ReadStatus::corrupt;
    }
  }
  if (!frame_ready()) {
    if (eof_) {
      if (why) *why = "peer closed";
      return ReadStatus::corrupt;
    }
    return ReadStatus::empty;
  }
  std::uint32_t n;
  std::memcpy(&n, in_.data() + in_off_, 4);
  out = bytes_of(in_, in_off_ + 4, n);
  held_ = 4 + std::size_t{n};
  return ReadStatus::record;
}

void SocketEndpoint::release() {
  in_off_ += held_;
  held_ = 0;
}

bool SocketEndpoint::prepare_sleep() { return !frame_ready(); }

}  // namespace portal::ipc

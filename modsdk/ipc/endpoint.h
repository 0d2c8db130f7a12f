// Message-level end of a channel: whole payloads (serialized pb::Envelope) of any size.
//
// RingEndpoint is the production transport (shared-memory rings + eventfd doorbells);
// SocketEndpoint carries the same payloads over a Unix-domain stream socket and exists as
// the baseline portal-bench compares against. Neither blocks: send() queues what does not
// fit, flush() pushes the queue, receive() returns what is there.
//
// Threading: receive()/release() from one thread at a time, send()/flush()/notify() from
// one thread at a time (the two sides may run concurrently).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>

#include "ipc/channel.h"

namespace portal::ipc {

inline constexpr std::size_t kMaxMessageBytes = 512u << 20;

class Endpoint {
 public:
  virtual ~Endpoint() = default;

  // Writes the payload or queues it behind what is already queued; never blocks.
  virtual void send(std::string payload) = 0;
  // Pushes queued payloads; true when nothing remains queued.
  virtual bool flush() = 0;
  virtual std::size_t queued() const = 0;
  // Wakes the peer if it sleeps and we wrote since the last call.
  virtual void notify() = 0;

  // record: `out` holds one whole payload, valid until release(). empty: nothing complete
  // yet. corrupt: the peer broke the protocol; drop the channel (`why` says how).
  virtual ReadStatus receive(std::span<const std::byte>& out, std::string* why) = 0;
  virtual void release() = 0;
  // Cheap check (no syscall) that receive() would find something.
  virtual bool has_data() const = 0;

  // The fd to wait on for "something to do" (readable).
  virtual int wait_fd() const = 0;
  // Sleep protocol: true when the caller may block on wait_fd(); call woke() after.
  virtual bool prepare_sleep() = 0;
  virtual void woke() = 0;
};

class RingEndpoint final : public Endpoint {
 public:
  // `my_bell`: the doorbell this side sleeps on; `peer_bell`: the one it rings.
  RingEndpoint(std::unique_ptr<Channel> channel, UniqueFd my_bell, UniqueFd peer_bell,
               std::size_t max_message = kMaxMessageBytes);

  void send(std::string payload) override;
  bool flush() override;
  std::size_t queued() const override { return queue_.size(); }
  void notify() override;
  ReadStatus receive(std::span<const std::byte>& out, std::string* why) override;
  void release() override;
  bool has_data() const override { return !channel_->consumer().empty(); }
  int wait_fd() const override { return my_bell_.get(); }
  bool prepare_sleep() override;
  void woke() override;

  Channel& channel() { return *channel_; }

 private:
  struct Pending {
    std::string payload;
    std::size_t offset = 0;  // bytes already written as fragments
  };
  bool write_some(Pending& p);  // true when the whole payload is written

  std::unique_ptr<Channel> channel_;
  UniqueFd my_bell_;
  UniqueFd peer_bell_;
  std::size_t max_message_;
  std::deque<Pending> queue_;
  bool wrote_ = false;
  // Reassembly of fragmented payloads.
  std::string assembly_;
  std::uint64_t assembly_total_ = 0;
  bool assembling_ = false;
  enum class Held { none, record, assembled } held_ = Held::none;
};

class SocketEndpoint final : public Endpoint {
 public:
  explicit SocketEndpoint(UniqueFd socket, std::size_t max_message = kMaxMessageBytes);

  void send(std::string payload) override;
  bool flush() override;
  std::size_t queued() const override { return out_.size() > out_off_ ? 1 : 0; }
  void notify() override {}
  ReadStatus receive(std::span<const std::byte>& out, std::string* why) override;
  void release() override;
  bool has_data() const override { return frame_ready(); }
  int wait_fd() const override { return fd_.get(); }
  bool prepare_sleep() override;
  void woke() override {}

 private:
  bool frame_ready() const;
  UniqueFd fd_;
  std::size_t max_message_;
  std::string out_;
  std::size_t out_off_ = 0;
  std::string in_;
  std::size_t in_off_ = 0;
  std::size_t held_ = 0;  // bytes of the frame handed out
  bool eof_ = false;
};

}  // namespace portal::ipc

// A channel: one memfd holding a header and two rings (router->worker, worker->router),
// plus an eventfd doorbell per side. Created by the supervisor, mapped by the router and
// the worker. See docs/PROTOCOL.md for the byte layout.
#pragma once

#include <cstdint>
#include <memory>

#include "ipc/ring.h"
#include "portal/result.h"

namespace portal::ipc {

inline constexpr std::uint32_t kChannelMagic = 0x43545250;  // "PRTC" little-endian
inline constexpr std::uint16_t kChannelVersion = 1;
inline constexpr std::size_t kChannelHeaderBytes = 4096;
inline constexpr std::uint32_t kDefaultRingBytes = 1u << 20;
inline constexpr std::uint32_t kMinRingBytes = 1u << 12;
inline constexpr std::uint32_t kMaxRingBytes = 1u << 30;

struct ChannelHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t header_bytes;
  std::uint32_t ring_bytes;  // capacity of each ring, a power of two
  std::uint32_t reserved;
  std::uint64_t generation;  // worker incarnation this channel belongs to
  std::uint64_t created_us;  // CLOCK_REALTIME at creation
  RingControl to_worker;     // producer: router
  RingControl to_router;     // producer: worker
};
static_assert(sizeof(ChannelHeader) <= kChannelHeaderBytes);
static_assert(offsetof(ChannelHeader, to_worker) == 64);
static_assert(offsetof(ChannelHeader, to_router) == 192);

// A file descriptor closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// eventfd used as a doorbell: ring() adds one, drain() reads the counter.
class Doorbell {
 public:
  static Result<UniqueFd> create(bool nonblocking);
  static void ring(int fd);
  static void drain(int fd);  // non-blocking read; ignores EAGAIN
  // One read() and nothing else, for a doorbell known to be O_NONBLOCK (the hot path).
  static void drain_nonblocking(int fd);
  static void set_nonblocking(int fd);
  static bool wait(int fd, int timeout_ms);  // poll for readability; true when rung
};

enum class Side { router, worker };

// Everything the supervisor creates for one worker incarnation.
struct ChannelFds {
  UniqueFd memfd;
  UniqueFd router_bell;  // router sleeps on it; the worker rings it
  UniqueFd worker_bell;  // worker sleeps on it; the router rings it
};

// Rounds up to a power of two within [kMinRingBytes, kMaxRingBytes].
std::uint32_t normalize_ring_bytes(std::uint64_t requested);

// Creates the memfd (sealed against resizing) and both eventfds. Name is for /proc only.
Result<ChannelFds> create_channel(const char* name, std::uint32_t ring_bytes, std::uint64_t generation);

// A mapping of a channel as seen from one side.
class Channel {
 public:
  // Validates the header (magic, version, sizes, generation when non-zero).
  static Result<std::unique_ptr<Channel>> map(int memfd, Side side, std::uint64_t expected_generation);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  RingProducer& producer() { return producer_; }
  RingConsumer& consumer() { return consumer_; }
  std::uint64_t generation() const { return header_->generation; }
  std::uint32_t ring_bytes() const { return header_->ring_bytes; }
  ChannelHeader* header() { return header_; }
  std::byte* base() { return static_cast<std::byte*>(map_); }
  std::size_t mapped_bytes() const { return size_; }

 private:
  Channel() = default;
  void* map_ = nullptr;
  std::size_t size_ = 0;
  ChannelHeader* header_ = nullptr;
  RingProducer producer_;
  RingConsumer consumer_;
};

}  // namespace portal::ipc

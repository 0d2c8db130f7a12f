#include "ipc/channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>

namespace portal::ipc {

namespace {

Error sys_error(const char* what) {
  return make_error(500, std::string(what) + ": " + std::strerror(errno));
}

std::uint64_t now_realtime_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

UniqueFd::~UniqueFd() { reset(); }

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> Doorbell::create(bool nonblocking) {
  int fd = ::eventfd(0, EFD_CLOEXEC | (nonblocking ? EFD_NONBLOCK : 0));
  if (fd < 0) return sys_error("eventfd");
  return UniqueFd(fd);
}

void Doorbell::ring(int fd) {
  std::uint64_t one = 1;
  // EAGAIN only when the counter is saturated: the sleeper is already woken.
  while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Doorbell::drain(int fd) {
  std::uint64_t value;
  // The fd may be blocking (worker side); only read when readable.
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) == 1) {
    while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
    }
  }
}

void Doorbell::drain_nonblocking(int fd) {
  std::uint64_t value;
  while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
  }
}

void Doorbell::set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

bool Doorbell::wait(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc == 1;
}

std::uint32_t normalize_ring_bytes(std::uint64_t requested) {
  if (requested < kMinRingBytes) requested = kMinRingBytes;
  if (requested > kMaxRingBytes) requested = kMaxRingBytes;
  return static_cast<std::uint32_t>(std::bit_ceil(requested));
}

Result<ChannelFds> create_channel(const char* name, std::uint32_t ring_bytes, std::uint64_t generation) {
  ring_bytes = normalize_ring_bytes(ring_bytes);
  ChannelFds fds;
  fds.memfd.reset(::memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fds.memfd) return sys_error("memfd_create");
  std::size_t size = kChannelHeaderBytes + 2 * std::size_t{ring_bytes};
  if (::ftruncate(fds.memfd.get(), static_cast<off_t>(size)) != 0) return sys_error("ftruncate");
  void* p = ::mmap(nullptr, kChannelHeaderBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds.memfd.get(), 0);
  if (p == MAP_FAILED) return sys_error("mmap");
  auto* h = new (p) ChannelHeader{};
  h->magic = kChannelMagic;
  h->version = kChannelVersion;
  h->header_bytes = kChannelHeaderBytes;
  h->ring_bytes = ring_bytes;
  h->generation = generation;
  h->created_us = now_realtime_us();
  ::munmap(p, kChannelHeaderBytes);
  if (::fcntl(fds.memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return sys_error("memfd seal");
  auto rb = Doorbell::create(true);
  if (!rb) return rb.error();
  auto wb = Doorbell::create(false);
  if (!wb) return wb.error();
  fds.router_bell = std::move(*rb);
  fds.worker_bell = std::move(*wb);
  return fds;
}

Result<std::unique_ptr<Channel>> Channel::map(int memfd, Side side, std::uint64_t expected_generation) {
  struct stat st;
  if (::fstat(memfd, &st) != 0) return sys_error("fstat channel");
  if (static_cast<std::size_t>(st.st_size) < kChannelHeaderBytes)
    return make_error(500, "channel: file too small");
  std::unique_ptr<Channel> c(new Channel);
  c->size_ = static_cast<std::size_t>(st.st_size);
  c->map_ = ::mmap(nullptr, c->size_, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (c->map_ == MAP_FAILED) {
    c->map_ = nullptr;
    return sys_error("mmap channel");
  }
  c->header_ = static_cast<ChannelHeader*>(c->map_);
  const ChannelHeader& h = *c->header_;
  if (h.magic != kChannelMagic || h.version != kChannelVersion || h.header_bytes != kChannelHeaderBytes)
    return make_error(500, "channel: bad header");
  if (!std::has_single_bit(h.ring_bytes) || h.ring_bytes < kMinRingBytes ||
      kChannelHeaderBytes + 2 * std::size_t{h.ring_bytes} != c->size_)
    return make_error(500, "channel: bad ring size");
  if (expected_generation != 0 && h.generation != expected_generation)
    return make_error(500, "channel: generation mismatch");
  std::byte* to_worker = c->base() + kChannelHeaderBytes;
  std::byte* to_router = to_worker + h.ring_bytes;
  if (side == Side::router) {
    c->producer_ = RingProducer(&c->header_->to_worker, to_worker, h.ring_bytes);
    c->consumer_ = RingConsumer(&c->header_->to_router, to_router, h.ring_bytes);
  } else {
    c->producer_ = RingProducer(&c->header_->to_router, to_router, h.ring_bytes);
    c->consumer_ = RingConsumer(&c->header_->to_worker, to_worker, h.ring_bytes);
  }
  return c;
}

Channel::~Channel() {
  if (map_) ::munmap(map_, size_);
}

}  // namespace portal::ipc

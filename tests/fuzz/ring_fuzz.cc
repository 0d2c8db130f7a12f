// The router's view of a worker's ring: whatever bytes and indices a hostile worker leaves
// in shared memory, reading must never go out of bounds, allocate what a length claims, or
// loop forever; it ends with records or `corrupt`.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_target.h"
#include "ipc/endpoint.h"
#include "portal.pb.h"

using namespace portal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto fds = ipc::create_channel("fuzz", ipc::kMinRingBytes, 1);
  if (!fds) return 0;
  auto ch = ipc::Channel::map(fds->memfd.get(), ipc::Side::router, 1);
  if (!ch) return 0;
  ipc::ChannelHeader* h = (*ch)->header();
  std::byte* ring = (*ch)->base() + ipc::kChannelHeaderBytes + h->ring_bytes;  // worker -> router
  // First 16 bytes: head and tail as the hostile worker left them; the rest: ring bytes.
  std::uint64_t head = 0, tail = 0;
  if (size >= 16) {
    std::memcpy(&head, data, 8);
    std::memcpy(&tail, data + 8, 8);
    data += 16;
    size -= 16;
  }
  head %= 1u << 20;
  tail = head + tail % (2 * h->ring_bytes);
  std::memset(ring, 0, h->ring_bytes);
  for (std::size_t i = 0; i < size; ++i) ring[(head + i) & (h->ring_bytes - 1)] = static_cast<std::byte>(data[i]);
  h->to_router.head.store(head);
  h->to_router.tail.store(tail);
  ipc::UniqueFd a(::dup(fds->router_bell.get())), b(::dup(fds->worker_bell.get()));
  ipc::RingEndpoint ep(std::move(*ch), std::move(a), std::move(b), 1u << 16);
  pb::Envelope env;
  for (int i = 0; i < 1000; ++i) {
    std::span<const std::byte> rec;
    ipc::ReadStatus st = ep.receive(rec, nullptr);
    if (st != ipc::ReadStatus::record) break;
    (void)env.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
    ep.release();
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  // A well-formed ring: head 0, tail 48, one data record of 8 bytes, one fragment pair.
  std::string s(16, '\0');
  std::uint64_t tail = 64;
  std::memcpy(&s[8], &tail, 8);
  ipc::RecordHeader d{8, static_cast<std::uint16_t>(ipc::RecordKind::data), 0, 0};
  s.append(reinterpret_cast<const char*>(&d), sizeof d);
  s.append("\x0a\x06/a/b/c", 8);
  ipc::RecordHeader f{8, static_cast<std::uint16_t>(ipc::RecordKind::fragment), ipc::kFragFirst, 16};
  s.append(reinterpret_cast<const char*>(&f), sizeof f);
  s.append(8, 'x');
  ipc::RecordHeader l{8, static_cast<std::uint16_t>(ipc::RecordKind::fragment), ipc::kFragLast, 0};
  s.append(reinterpret_cast<const char*>(&l), sizeof l);
  s.append(8, 'y');
  return {s};
}

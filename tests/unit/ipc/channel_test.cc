// Channels: what create_channel() builds (memfd, seals, header, doorbells), how each side
// maps it, and what Channel::map() refuses.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "ipc/channel.h"

namespace portal::ipc {
namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string unique_name(const char* what) {
  return std::string("portal-test-") + what + "-" + std::to_string(::getpid());
}

std::uint64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

int count_lines_containing(const char* path, const std::string& needle) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) ++n;
  return n;
}

TEST(ChannelLayout, HeaderOffsets) {
  // docs/PROTOCOL.md draws these; a change here is a protocol change.
  EXPECT_EQ(offsetof(ChannelHeader, magic), 0u);
  EXPECT_EQ(offsetof(ChannelHeader, version), 4u);
  EXPECT_EQ(offsetof(ChannelHeader, header_bytes), 6u);
  EXPECT_EQ(offsetof(ChannelHeader, ring_bytes), 8u);
  EXPECT_EQ(offsetof(ChannelHeader, reserved), 12u);
  EXPECT_EQ(offsetof(ChannelHeader, generation), 16u);
  EXPECT_EQ(offsetof(ChannelHeader, created_us), 24u);
  EXPECT_EQ(offsetof(ChannelHeader, to_worker), 64u);
  EXPECT_EQ(offsetof(ChannelHeader, to_router), 192u);
  EXPECT_EQ(sizeof(ChannelHeader), 320u);
  std::uint32_t magic = kChannelMagic;
  EXPECT_EQ(std::memcmp(&magic, "PRTC", 4), 0);  // little-endian hosts only (x86-64, arm64)
}

TEST(Channel, NormalizeRingBytes) {
  EXPECT_EQ(normalize_ring_bytes(0), kMinRingBytes);
  EXPECT_EQ(normalize_ring_bytes(4096), 4096u);
  EXPECT_EQ(normalize_ring_bytes(4097), 8192u);
  EXPECT_EQ(normalize_ring_bytes(1u << 20), 1u << 20);
  EXPECT_EQ(normalize_ring_bytes((1u << 20) + 1), 1u << 21);
  EXPECT_EQ(normalize_ring_bytes((1ull << 30) + 1), kMaxRingBytes);
  EXPECT_EQ(normalize_ring_bytes(~0ull), kMaxRingBytes);
}

TEST(Channel, CreateBuildsASealedMemfdWithAHeader) {
  std::string name = unique_name("create");
  std::uint64_t before = now_us();
  auto fds = create_channel(name.c_str(), 5000, 42);  // rounded up to 8192
  ASSERT_TRUE(fds) << fds.error().message;
  struct stat st;
  ASSERT_EQ(::fstat(fds->memfd.get(), &st), 0);
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), kChannelHeaderBytes + 2 * 8192);

  int seals = ::fcntl(fds->memfd.get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  EXPECT_NE(::ftruncate(fds->memfd.get(), 1 << 20), 0);  // the size cannot change under a mapper

  ChannelHeader h;
  ASSERT_EQ(::pread(fds->memfd.get(), &h, sizeof h, 0), static_cast<ssize_t>(sizeof h));
  EXPECT_EQ(h.magic, kChannelMagic);
  EXPECT_EQ(h.version, kChannelVersion);
  EXPECT_EQ(h.header_bytes, kChannelHeaderBytes);
  EXPECT_EQ(h.ring_bytes, 8192u);
  EXPECT_EQ(h.generation, 42u);
  EXPECT_GE(h.created_us + 1000, before);
  EXPECT_LE(h.created_us, now_us() + 1000);
  EXPECT_EQ(h.to_worker.tail.load(), 0u);
  EXPECT_EQ(h.to_router.head.load(), 0u);
}

TEST(Channel, FdsAreCloseOnExecAndOnlyTheRouterBellIsNonBlocking) {
  auto fds = create_channel(unique_name("flags").c_str(), 4096, 1);
  ASSERT_TRUE(fds) << fds.error().message;
  for (int fd : {fds->memfd.get(), fds->router_bell.get(), fds->worker_bell.get()})
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << fd;
  EXPECT_TRUE(::fcntl(fds->router_bell.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_FALSE(::fcntl(fds->worker_bell.get(), F_GETFL) & O_NONBLOCK);
}

TEST(Channel, MemfdIsAnonymousNothingInDevShm) {
  std::string name = unique_name("anon");
  auto fds = create_channel(name.c_str(), 4096, 1);
  ASSERT_TRUE(fds) << fds.error().message;
  char target[256] = {};
  std::string link = "/proc/self/fd/" + std::to_string(fds->memfd.get());
  ASSERT_GT(::readlink(link.c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target).rfind("/memfd:" + name, 0), 0u) << target;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d)) EXPECT_EQ(std::string(e->d_name).find(name), std::string::npos);
    ::closedir(d);
  }
}

TEST(Channel, EachSideProducesIntoItsOwnRing) {
  auto fds = create_channel(unique_name("sides").c_str(), 4096, 9);
  ASSERT_TRUE(fds) << fds.error().message;
  auto router = Channel::map(fds->memfd.get(), Side::router, 9);
  auto worker = Channel::map(fds->memfd.get(), Side::worker, 9);
  ASSERT_TRUE(router) << router.error().message;
  ASSERT_TRUE(worker) << worker.error().message;
  Channel& r = **router;
  Channel& w = **worker;
  EXPECT_EQ(r.generation(), 9u);
  EXPECT_EQ(r.ring_bytes(), 4096u);
  EXPECT_EQ(r.mapped_bytes(), kChannelHeaderBytes + 2 * 4096);
  EXPECT_EQ(r.producer().control(), &r.header()->to_worker);
  EXPECT_EQ(r.consumer().control(), &r.header()->to_router);
  EXPECT_EQ(w.producer().control(), &w.header()->to_router);
  EXPECT_EQ(w.consumer().control(), &w.header()->to_worker);

  // Router -> worker data starts right after the 4096-byte header...
  ASSERT_TRUE(r.producer().try_write(RecordKind::data, 0, 0, bytes("to-worker")));
  RecordHeader h;
  std::memcpy(&h, w.base() + kChannelHeaderBytes, sizeof h);
  EXPECT_EQ(h.length, 9u);
  EXPECT_EQ(std::memcmp(w.base() + kChannelHeaderBytes + 16, "to-worker", 9), 0);
  // ...and worker -> router data one ring later.
  ASSERT_TRUE(w.producer().try_write(RecordKind::data, 0, 0, bytes("to-router!")));
  std::memcpy(&h, r.base() + kChannelHeaderBytes + 4096, sizeof h);
  EXPECT_EQ(h.length, 10u);

  RecordView v{};
  ASSERT_EQ(w.consumer().peek(v), ReadStatus::record);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.payload.data()), v.payload.size()), "to-worker");
  ASSERT_EQ(r.consumer().peek(v), ReadStatus::record);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.payload.data()), v.payload.size()), "to-router!");
}

TEST(Channel, GenerationZeroAcceptsAnyAndAMismatchIsRefused) {
  auto fds = create_channel(unique_name("gen").c_str(), 4096, 7);
  ASSERT_TRUE(fds) << fds.error().message;
  EXPECT_TRUE(Channel::map(fds->memfd.get(), Side::worker, 0));
  EXPECT_TRUE(Channel::map(fds->memfd.get(), Side::worker, 7));
  auto wrong = Channel::map(fds->memfd.get(), Side::worker, 8);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("generation"), std::string::npos) << wrong.error().message;
}

// A memfd with a hand-made header, to feed Channel::map() what create_channel() never would.
class ForgedChannel : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<ChannelHeader>();
    h_->magic = kChannelMagic;
    h_->version = kChannelVersion;
    h_->header_bytes = kChannelHeaderBytes;
    h_->ring_bytes = 4096;
    h_->generation = 3;
    file_bytes_ = kChannelHeaderBytes + 2 * 4096;
  }
  Result<std::unique_ptr<Channel>> map() {
    fd_.reset(::memfd_create("portal-test-forged", MFD_CLOEXEC));
    EXPECT_TRUE(fd_);
    EXPECT_EQ(::ftruncate(fd_.get(), static_cast<off_t>(file_bytes_)), 0);
    std::size_t n = std::min(sizeof(ChannelHeader), file_bytes_);
    EXPECT_EQ(::pwrite(fd_.get(), h_.get(), n, 0), static_cast<ssize_t>(n));
    return Channel::map(fd_.get(), Side::router, 3);
  }
  void expect_refused(const char* needle) {
    int maps_before = count_lines_containing("/proc/self/maps", "portal-test-forged");
    auto r = map();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
    // A refused channel is unmapped again.
    EXPECT_EQ(count_lines_containing("/proc/self/maps", "portal-test-forged"), maps_before);
  }

  std::unique_ptr<ChannelHeader> h_;
  std::size_t file_bytes_ = 0;
  UniqueFd fd_;
};

TEST_F(ForgedChannel, WellFormedIsAccepted) { EXPECT_TRUE(map()); }

TEST_F(ForgedChannel, BadMagic) {
  h_->magic = 0x12345678;
  expect_refused("bad header");
}

TEST_F(ForgedChannel, WrongVersion) {
  h_->version = kChannelVersion + 1;
  expect_refused("bad header");
}

TEST_F(ForgedChannel, WrongHeaderBytes) {
  h_->header_bytes = 2048;
  expect_refused("bad header");
}

TEST_F(ForgedChannel, RingSizeNotAPowerOfTwo) {
  h_->ring_bytes = 6000;
  file_bytes_ = kChannelHeaderBytes + 2 * 6000;
  expect_refused("ring size");
}

TEST_F(ForgedChannel, RingSizeBelowMinimum) {
  h_->ring_bytes = 2048;
  file_bytes_ = kChannelHeaderBytes + 2 * 2048;
  expect_refused("ring size");
}

TEST_F(ForgedChannel, RingSizeZero) {
  h_->ring_bytes = 0;
  file_bytes_ = kChannelHeaderBytes;
  expect_refused("ring size");
}

TEST_F(ForgedChannel, FileSizeDoesNotMatchTheRings) {
  file_bytes_ = kChannelHeaderBytes + 4096;  // one ring short: the second would be outside the file
  expect_refused("ring size");
  file_bytes_ = kChannelHeaderBytes + 3 * 4096;
  expect_refused("ring size");
}

TEST_F(ForgedChannel, RingSizeBeyondTheFile) {
  h_->ring_bytes = 1u << 31;  // a power of two whose rings would reach far past the mapping
  expect_refused("ring size");
}

TEST_F(ForgedChannel, FileSmallerThanTheHeader) {
  file_bytes_ = 100;
  expect_refused("too small");
}

TEST_F(ForgedChannel, WrongGeneration) {
  h_->generation = 4;
  expect_refused("generation");
}

TEST(Channel, MapOfANonFileFails) {
  auto r = Channel::map(-1, Side::router, 0);
  EXPECT_FALSE(r);
}

// ---------------------------------------------------------------------------------------

TEST(Doorbell, RingWaitDrain) {
  auto bell = Doorbell::create(true);
  ASSERT_TRUE(bell) << bell.error().message;
  int fd = bell->get();
  EXPECT_FALSE(Doorbell::wait(fd, 0));
  Doorbell::ring(fd);
  Doorbell::ring(fd);
  EXPECT_TRUE(Doorbell::wait(fd, 0));
  EXPECT_TRUE(Doorbell::wait(fd, 1000));  // still rung: waiting does not consume
  Doorbell::drain(fd);                    // one read takes the whole counter
  EXPECT_FALSE(Doorbell::wait(fd, 0));
}

TEST(Doorbell, DrainOfABlockingBellThatWasNotRungReturns) {
  auto bell = Doorbell::create(false);
  ASSERT_TRUE(bell) << bell.error().message;
  Doorbell::drain(bell->get());  // would hang forever with a plain read()
  Doorbell::ring(bell->get());
  Doorbell::drain(bell->get());
  EXPECT_FALSE(Doorbell::wait(bell->get(), 0));
}

TEST(Doorbell, WaitTimesOut) {
  auto bell = Doorbell::create(true);
  ASSERT_TRUE(bell) << bell.error().message;
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(Doorbell::wait(bell->get(), 50));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(45));
}

TEST(UniqueFd, ClosesAndMoves) {
  int raw[2];
  ASSERT_EQ(::pipe(raw), 0);
  {
    UniqueFd a(raw[0]);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw[0]);
    UniqueFd c;
    c = std::move(b);
    EXPECT_EQ(c.get(), raw[0]);
  }
  EXPECT_EQ(::fcntl(raw[0], F_GETFD), -1);  // closed exactly once, by c
  UniqueFd w(raw[1]);
  int released = w.release();
  EXPECT_FALSE(w);
  EXPECT_EQ(::close(released), 0);
}

}  // namespace
}  // namespace portal::ipc

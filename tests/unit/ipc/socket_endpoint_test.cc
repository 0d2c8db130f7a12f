// SocketEndpoint: the same payloads over a Unix stream socket, framed by a 4-byte length.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "ipc_test_support.h"

namespace portal::ipc {
namespace {

using test::check_payload;
using test::make_payload;

std::string text(std::span<const std::byte> b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

class SocketEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a_fd_ = sv[0];
    b_fd_ = sv[1];
  }
  void make(std::size_t max_message = kMaxMessageBytes) {
    a_ = std::make_unique<SocketEndpoint>(UniqueFd(a_fd_), max_message);
    b_ = std::make_unique<SocketEndpoint>(UniqueFd(b_fd_), max_message);
  }
  ReadStatus receive(SocketEndpoint& ep, std::string& out, std::string* why = nullptr) {
    std::span<const std::byte> view;
    ReadStatus st = ep.receive(view, why);
    if (st == ReadStatus::record) {
      out = text(view);
      ep.release();
    }
    return st;
  }
  void write_raw(const void* p, std::size_t n) { ASSERT_EQ(::write(a_fd_, p, n), static_cast<ssize_t>(n)); }

  int a_fd_ = -1, b_fd_ = -1;  // owned by a_ and b_ once make() ran
  std::unique_ptr<SocketEndpoint> a_, b_;
};

TEST_F(SocketEndpointTest, RoundTripInOrder) {
  make();
  a_->send("hello");
  a_->send("");
  a_->send("world");
  EXPECT_EQ(a_->queued(), 0u);
  std::string s;
  ASSERT_EQ(receive(*b_, s), ReadStatus::record);
  EXPECT_EQ(s, "hello");
  ASSERT_EQ(receive(*b_, s), ReadStatus::record);
  EXPECT_EQ(s, "");
  ASSERT_EQ(receive(*b_, s), ReadStatus::record);
  EXPECT_EQ(s, "world");
  EXPECT_EQ(receive(*b_, s), ReadStatus::empty);
  b_->send("back");
  ASSERT_EQ(receive(*a_, s), ReadStatus::record);
  EXPECT_EQ(s, "back");
}

TEST_F(SocketEndpointTest, FrameIsALengthInHostOrderThenThePayload) {
  make();
  a_->send("hello");
  char buf[16];
  ASSERT_EQ(::recv(b_fd_, buf, sizeof buf, MSG_DONTWAIT), 9);
  std::uint32_t n;
  std::memcpy(&n, buf, 4);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(std::string(buf + 4, 5), "hello");
}

TEST_F(SocketEndpointTest, FrameArrivingByteByByte) {
  make();
  std::uint32_t n = 3;
  std::string frame(reinterpret_cast<char*>(&n), 4);
  frame += "abc";
  std::string s;
  for (char c : frame) {
    EXPECT_EQ(receive(*b_, s), ReadStatus::empty);
    EXPECT_TRUE(b_->prepare_sleep());
    write_raw(&c, 1);
  }
  ASSERT_EQ(receive(*b_, s), ReadStatus::record);
  EXPECT_EQ(s, "abc");
}

TEST_F(SocketEndpointTest, DoesNotSleepOnAFrameAlreadyBuffered) {
  make();
  a_->send("one");
  a_->send("two");
  std::string s;
  ASSERT_EQ(receive(*b_, s), ReadStatus::record);  // one recv() took both frames
  char probe;
  EXPECT_EQ(::recv(b_fd_, &probe, 1, MSG_DONTWAIT | MSG_PEEK), -1);  // the socket is empty now
  EXPECT_FALSE(b_->prepare_sleep());  // but "two" is waiting in the endpoint
  ASSERT_EQ(receive(*b_, s), ReadStatus::record);
  EXPECT_EQ(s, "two");
  EXPECT_TRUE(b_->prepare_sleep());
}

TEST_F(SocketEndpointTest, BigPayloadIntact) {
  make();
  const std::size_t size = 16u << 20;
  a_->send(make_payload(42, size));
  EXPECT_EQ(a_->queued(), 1u);  // far more than the socket buffer holds
  std::span<const std::byte> view;
  std::string why;
  ReadStatus st = ReadStatus::empty;
  for (int spins = 0; spins < 100000 && st == ReadStatus::empty; ++spins) {
    a_->flush();
    st = b_->receive(view, &why);
  }
  ASSERT_EQ(st, ReadStatus::record) << why;
  EXPECT_EQ(check_payload(view, 42, size), "");
  b_->release();
  EXPECT_TRUE(a_->flush());
  EXPECT_EQ(a_->queued(), 0u);
}

TEST_F(SocketEndpointTest, OversizedFrameHeaderIsCorrupt) {
  make();
  std::uint32_t n = 0xffffffffu;
  write_raw(&n, 4);
  std::string s, why;
  EXPECT_EQ(receive(*b_, s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

TEST_F(SocketEndpointTest, FrameAboveTheConfiguredLimitIsCorruptBeforeItArrives) {
  make(1024);
  std::uint32_t n = 1025;
  write_raw(&n, 4);  // only the header: the body is never awaited
  std::string s, why;
  EXPECT_EQ(receive(*b_, s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

TEST_F(SocketEndpointTest, PeerClosedAfterWholeFrames) {
  make();
  a_->send("last words");
  a_.reset();
  std::string s, why;
  ASSERT_EQ(receive(*b_, s, &why), ReadStatus::record);
  EXPECT_EQ(s, "last words");
  EXPECT_EQ(receive(*b_, s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("closed"), std::string::npos) << why;
}

TEST_F(SocketEndpointTest, PeerClosedMidFrame) {
  make();
  std::uint32_t n = 100;
  write_raw(&n, 4);
  write_raw("partial", 7);
  a_.reset();
  std::string s, why;
  EXPECT_EQ(receive(*b_, s, &why), ReadStatus::corrupt);
  EXPECT_NE(why.find("closed"), std::string::npos) << why;
}

TEST_F(SocketEndpointTest, SendingToADeadPeerFailsQuietly) {
  make();
  b_.reset();
  a_->send("nobody listens");  // MSG_NOSIGNAL: no SIGPIPE
  EXPECT_FALSE(a_->flush());
  EXPECT_EQ(a_->queued(), 1u);
}

}  // namespace
}  // namespace portal::ipc

// The supervisor <-> router control socket: one pb::Control per SOCK_SEQPACKET datagram,
// file descriptors passed as SCM_RIGHTS.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ipc/control.h"

namespace portal::ipc {
namespace {

int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    a_.reset(sv[0]);
    b_.reset(sv[1]);
  }
  static pb::Control attach(const std::string& module, std::uint64_t generation) {
    pb::Control c;
    auto* a = c.mutable_attach_worker();
    a->mutable_status()->set_name(module);
    a->mutable_status()->set_generation(generation);
    a->set_transport("ring");
    a->set_ring_bytes(1u << 20);
    return c;
  }
  UniqueFd a_, b_;
};

TEST_F(ControlTest, MessageRoundTrip) {
  ASSERT_TRUE(send_control(a_.get(), attach("cache", 3)));
  pb::Control got;
  std::vector<UniqueFd> fds;
  std::string why;
  ASSERT_EQ(recv_control(b_.get(), got, fds, &why), ControlRead::message) << why;
  ASSERT_TRUE(got.has_attach_worker());
  EXPECT_EQ(got.attach_worker().status().name(), "cache");
  EXPECT_EQ(got.attach_worker().status().generation(), 3u);
  EXPECT_EQ(got.attach_worker().transport(), "ring");
  EXPECT_TRUE(fds.empty());
}

TEST_F(ControlTest, OneMessagePerDatagram) {
  pb::Control r;
  r.mutable_router_ready()->set_pid(1234);
  ASSERT_TRUE(send_control(a_.get(), attach("one", 1)));
  ASSERT_TRUE(send_control(a_.get(), r));
  pb::Control got;
  std::vector<UniqueFd> fds;
  ASSERT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::message);
  EXPECT_EQ(got.attach_worker().status().name(), "one");
  ASSERT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::message);
  ASSERT_TRUE(got.has_router_ready());  // parsed alone, not merged into the previous one
  EXPECT_EQ(got.router_ready().pid(), 1234);
  EXPECT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::again);
}

TEST_F(ControlTest, PassedEventfdWorksOnTheOtherSide) {
  UniqueFd bell(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(bell);
  ASSERT_TRUE(send_control(a_.get(), attach("web", 1), {bell.get()}));
  pb::Control got;
  std::vector<UniqueFd> fds;
  ASSERT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::message);
  ASSERT_EQ(fds.size(), 1u);
  EXPECT_NE(fds[0].get(), bell.get());
  EXPECT_TRUE(::fcntl(fds[0].get(), F_GETFD) & FD_CLOEXEC);
  std::uint64_t v = 5;
  ASSERT_EQ(::write(fds[0].get(), &v, sizeof v), static_cast<ssize_t>(sizeof v));
  v = 0;
  ASSERT_EQ(::read(bell.get(), &v, sizeof v), static_cast<ssize_t>(sizeof v));
  EXPECT_EQ(v, 5u);  // the same eventfd object
}

TEST_F(ControlTest, FdsKeepTheirOrder) {
  int p1[2], p2[2];
  ASSERT_EQ(::pipe2(p1, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(p2, O_CLOEXEC), 0);
  UniqueFd r1(p1[0]), w1(p1[1]), r2(p2[0]), w2(p2[1]);
  UniqueFd bell(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(send_control(a_.get(), attach("x", 1), {w1.get(), bell.get(), w2.get()}));
  pb::Control got;
  std::vector<UniqueFd> fds;
  ASSERT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::message);
  ASSERT_EQ(fds.size(), 3u);
  ASSERT_EQ(::write(fds[0].get(), "1", 1), 1);
  ASSERT_EQ(::write(fds[2].get(), "2", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(r1.get(), &c, 1), 1);
  EXPECT_EQ(c, '1');
  ASSERT_EQ(::read(r2.get(), &c, 1), 1);
  EXPECT_EQ(c, '2');
  std::uint64_t v = 1;
  EXPECT_EQ(::write(fds[1].get(), &v, sizeof v), static_cast<ssize_t>(sizeof v));
}

TEST_F(ControlTest, NothingPendingIsAgain) {
  pb::Control got;
  std::vector<UniqueFd> fds;
  EXPECT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::again);
}

TEST_F(ControlTest, ClosedPeerAfterItsLastMessage) {
  ASSERT_TRUE(send_control(a_.get(), attach("bye", 9)));
  a_.reset();
  pb::Control got;
  std::vector<UniqueFd> fds;
  ASSERT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::message);
  EXPECT_EQ(got.attach_worker().status().name(), "bye");
  EXPECT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::closed);
  EXPECT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::closed);
}

TEST_F(ControlTest, SendToAClosedPeerIsAnError) {
  b_.reset();
  EXPECT_FALSE(send_control(a_.get(), attach("void", 1)));  // EPIPE, and no SIGPIPE
}

TEST_F(ControlTest, EmptyMessageIsNeverMistakenForAClosedPeer) {
  // An empty pb::Control serializes to zero bytes, and a zero-byte datagram reads exactly
  // like EOF on SOCK_SEQPACKET: it must not reach the wire.
  EXPECT_FALSE(send_control(a_.get(), pb::Control{}));
  ASSERT_TRUE(send_control(a_.get(), attach("after", 2)));
  pb::Control got;
  std::vector<UniqueFd> fds;
  ASSERT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::message);
  EXPECT_EQ(got.attach_worker().status().name(), "after");
}

TEST_F(ControlTest, TooManyFdsToSend) {
  std::vector<int> many(kMaxControlFds + 1, a_.get());
  EXPECT_FALSE(send_control(b_.get(), attach("x", 1), many));
  std::vector<int> max(kMaxControlFds, a_.get());
  EXPECT_TRUE(send_control(b_.get(), attach("x", 1), max));
}

TEST_F(ControlTest, TooManyFdsReceivedIsAnErrorAndLeaksNothing) {
  const int before = open_fd_count();
  {
    constexpr std::size_t kSent = kMaxControlFds + 4;
    std::string body = attach("greedy", 1).SerializeAsString();
    std::vector<int> fds(kSent, a_.get());
    iovec iov{body.data(), body.size()};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kSent)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * kSent);
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * kSent);
    ASSERT_GT(::sendmsg(a_.get(), &mh, 0), 0);

    pb::Control got;
    std::vector<UniqueFd> received;
    std::string why;
    EXPECT_EQ(recv_control(b_.get(), got, received, &why), ControlRead::error);
    EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  }
  EXPECT_EQ(open_fd_count(), before);
}

TEST_F(ControlTest, GarbageDatagramIsAnError) {
  const char junk[] = "\xff\xff\xff\xff\xff";
  ASSERT_EQ(::send(a_.get(), junk, 5, 0), 5);
  pb::Control got;
  std::vector<UniqueFd> fds;
  std::string why;
  EXPECT_EQ(recv_control(b_.get(), got, fds, &why), ControlRead::error);
  EXPECT_NE(why.find("parse"), std::string::npos) << why;
}

TEST_F(ControlTest, LargeConfigureFitsOneDatagram) {
  pb::Control c;
  auto* values = c.mutable_configure()->mutable_values();
  for (int i = 0; i < 2000; ++i) (*values)["mod_x.key" + std::to_string(i)] = std::string(50, 'v');
  ASSERT_GT(c.ByteSizeLong(), 100000u);  // well past any fixed receive buffer
  ASSERT_TRUE(send_control(a_.get(), c));
  pb::Control got;
  std::vector<UniqueFd> fds;
  std::string why;
  ASSERT_EQ(recv_control(b_.get(), got, fds, &why), ControlRead::message) << why;
  EXPECT_EQ(got.configure().values().size(), 2000);
  EXPECT_EQ(got.configure().values().at("mod_x.key1999"), std::string(50, 'v'));
}

TEST_F(ControlTest, MessagesBeyondTheSocketBufferTravelInAMemfdWithTheirFds) {
  pb::Control c;
  auto* values = c.mutable_configure()->mutable_values();
  for (int i = 0; i < 20000; ++i) (*values)["mod_x.key" + std::to_string(i)] = std::string(100, 'v');
  ASSERT_GT(c.ByteSizeLong(), 2u << 20);  // far past SO_SNDBUF: one datagram could not carry it
  UniqueFd bell(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(send_control(a_.get(), c, {bell.get()}));
  pb::Control got;
  std::vector<UniqueFd> fds;
  std::string why;
  ASSERT_EQ(recv_control(b_.get(), got, fds, &why), ControlRead::message) << why;
  EXPECT_EQ(got.configure().values().size(), 20000);
  EXPECT_EQ(got.configure().values().at("mod_x.key19999"), std::string(100, 'v'));
  ASSERT_EQ(fds.size(), 1u);  // the memfd is consumed; the caller's fd comes through
  std::uint64_t one = 1, v = 0;
  ASSERT_EQ(::write(fds[0].get(), &one, sizeof one), 8);
  ASSERT_EQ(::read(bell.get(), &v, sizeof v), 8);
}

TEST_F(ControlTest, ASpilledMarkerWithoutItsMemfdIsAnError) {
  pb::Control marker;
  marker.mutable_spilled()->set_bytes(100);
  std::string data;
  marker.SerializeToString(&data);
  ASSERT_EQ(::send(a_.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  pb::Control got;
  std::vector<UniqueFd> fds;
  EXPECT_EQ(recv_control(b_.get(), got, fds, nullptr), ControlRead::error);
}

TEST_F(ControlTest, NonBlockingSenderWaitsOutAFullSocket) {
  ASSERT_EQ(::fcntl(a_.get(), F_SETFL, ::fcntl(a_.get(), F_GETFL) | O_NONBLOCK), 0);
  static constexpr int kCount = 5000;  // far more than the socket buffers hold
  std::thread reader([fd = b_.get()] {
    int expect = 0;
    while (expect < kCount) {
      pb::Control got;
      std::vector<UniqueFd> fds;
      ControlRead r = recv_control(fd, got, fds, nullptr);
      if (r == ControlRead::again) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      if (r != ControlRead::message || got.router_ready().pid() != expect) break;
      ++expect;
    }
    EXPECT_EQ(expect, kCount);
  });
  for (int i = 0; i < kCount; ++i) {
    pb::Control c;
    c.mutable_router_ready()->set_pid(i);
    auto st = send_control(a_.get(), c);
    EXPECT_TRUE(st) << st.error().message;
    if (!st) {
      b_.reset();  // ends the reader
      break;
    }
  }
  reader.join();
}

}  // namespace
}  // namespace portal::ipc

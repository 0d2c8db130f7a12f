// The frame parser on its own: framing, every way a stream can be broken, and memory.
#include <gtest/gtest.h>

#include "alloc_watch.h"
#include "frame.h"

namespace portal::node {
namespace {

std::string frame(FrameType type, std::string_view body) {
  std::string out;
  append_frame(out, type, body);
  return out;
}

std::string header(std::uint16_t version, std::uint8_t type, std::uint32_t length) {
  std::string h("PRT\0", 4);
  h.push_back(static_cast<char>(version >> 8));
  h.push_back(static_cast<char>(version));
  h.push_back(static_cast<char>(type));
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>(length >> shift));
  return h;
}

using test::AllocationWatch;

TEST(FrameTest, HeaderLayoutIsBigEndian) {
  const std::string f = frame(FrameType::event, "abc");
  ASSERT_EQ(f.size(), kFrameHeaderSize + 3);
  EXPECT_EQ(f.substr(0, kFrameHeaderSize), header(2, 0x03, 3));
  EXPECT_EQ(f.substr(kFrameHeaderSize), "abc");
}

TEST(FrameTest, SplitFeedsByteByByte) {
  const std::string stream =
      frame(FrameType::request, "first") + frame(FrameType::pong, "") + frame(FrameType::response, std::string(300, 'x'));
  FrameParser p(1024);
  std::vector<Frame> got;
  for (char c : stream) {
    ASSERT_TRUE(p.feed({&c, 1}));
    while (auto f = p.next()) got.push_back(std::move(*f));
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, FrameType::request);
  EXPECT_EQ(got[0].body, "first");
  EXPECT_EQ(got[1].type, FrameType::pong);
  EXPECT_EQ(got[1].body, "");
  EXPECT_EQ(got[2].body, std::string(300, 'x'));
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(FrameTest, SeveralFramesInOneFeed) {
  std::string stream;
  for (int i = 0; i < 50; ++i) stream += frame(FrameType::event, "event " + std::to_string(i));
  FrameParser p(1024);
  ASSERT_TRUE(p.feed(stream));
  for (int i = 0; i < 50; ++i) {
    auto f = p.next();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->body, "event " + std::to_string(i));
  }
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.error().empty());
}

TEST(FrameTest, PartialFrameWaitsForTheRest) {
  const std::string f = frame(FrameType::request, "body");
  FrameParser p(1024);
  ASSERT_TRUE(p.feed(std::string_view(f).substr(0, f.size() - 1)));
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.buffered(), f.size() - 1);
  ASSERT_TRUE(p.feed(std::string_view(f).substr(f.size() - 1)));
  EXPECT_TRUE(p.next());
}

TEST(FrameTest, BadMagicIsRefusedAtTheFirstWrongByte) {
  FrameParser p(1024);
  EXPECT_FALSE(p.feed("G"));
  EXPECT_NE(p.error().find("magic"), std::string::npos);
  EXPECT_FALSE(p.next());
  // The error sticks.
  EXPECT_FALSE(p.feed(frame(FrameType::request, "")));
  EXPECT_FALSE(p.next());
}

TEST(FrameTest, GarbageBeforeAValidFrameIsRefused) {
  FrameParser p(1024);
  EXPECT_FALSE(p.feed("GET / HTTP/1.1\r\n\r\n" + frame(FrameType::request, "x")));
  EXPECT_FALSE(p.next());
}

TEST(FrameTest, BadVersionIsRefused) {
  FrameParser p(1024);
  EXPECT_FALSE(p.feed(header(1, 0x01, 0)));
  EXPECT_NE(p.error().find("version"), std::string::npos);
  FrameParser q(1024);
  EXPECT_FALSE(q.feed(header(3, 0x01, 0)));
}

TEST(FrameTest, UnknownTypeIsRefused) {
  for (std::uint8_t type : {0x00, 0x08, 0xff}) {
    FrameParser p(1024);
    EXPECT_FALSE(p.feed(header(2, type, 0))) << int(type);
    EXPECT_NE(p.error().find("type"), std::string::npos);
  }
}

TEST(FrameTest, FourGiBLengthIsRefusedWithoutAllocating) {
  FrameParser p(kPreAuthMaxBody);
  AllocationWatch watch;
  EXPECT_FALSE(p.feed(header(2, 0x05, 0xffffffffu)));
  EXPECT_FALSE(p.next());
  EXPECT_LT(watch.largest(), 4096u);
  EXPECT_NE(p.error().find("4294967295"), std::string::npos);
  EXPECT_LE(p.buffered(), kFrameHeaderSize);
}

TEST(FrameTest, LengthJustOverTheLimitIsRefused) {
  FrameParser p(kPreAuthMaxBody);
  EXPECT_TRUE(p.feed(header(2, 0x05, kPreAuthMaxBody)));
  FrameParser q(kPreAuthMaxBody);
  EXPECT_FALSE(q.feed(header(2, 0x05, kPreAuthMaxBody + 1)));
}

TEST(FrameTest, RaisedLimitAppliesToFramesAlreadyBuffered) {
  // The handshake answer and a large request arrive in one read: the request is checked
  // against the limit set after the handshake frame.
  FrameParser p(16);
  ASSERT_TRUE(p.feed(frame(FrameType::response, "ok") + frame(FrameType::request, std::string(100, 'r'))));
  ASSERT_TRUE(p.next());
  p.set_max_body(1000);
  auto f = p.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->body.size(), 100u);

  FrameParser strict(16);
  ASSERT_TRUE(strict.feed(frame(FrameType::response, "ok") + frame(FrameType::request, std::string(100, 'r'))));
  ASSERT_TRUE(strict.next());
  EXPECT_FALSE(strict.next());
  EXPECT_FALSE(strict.error().empty());
}

TEST(FrameTest, LongStreamDoesNotGrowTheBuffer) {
  const std::string one = frame(FrameType::request, std::string(1000, 'b'));
  std::string chunk;
  for (int i = 0; i < 10; ++i) chunk += one;
  FrameParser p(1 << 20);
  AllocationWatch watch;
  std::size_t frames = 0;
  // Feeds cut across frame boundaries, as TCP reads do.
  for (int round = 0; round < 2000; ++round) {
    const std::size_t cut = 1 + static_cast<std::size_t>(round) % (chunk.size() - 1);
    ASSERT_TRUE(p.feed(std::string_view(chunk).substr(0, cut)));
    while (p.next()) ++frames;
    ASSERT_TRUE(p.feed(std::string_view(chunk).substr(cut)));
    while (p.next()) ++frames;
    ASSERT_LT(p.buffered(), one.size());
  }
  EXPECT_EQ(frames, 20000u);
  EXPECT_LT(watch.largest(), 4 * chunk.size());
}

}  // namespace
}  // namespace portal::node

// modsdk/common/util.h: the path table's hash and the uptime format.
#include <gtest/gtest.h>

#include <string>

#include "common/util.h"

namespace portal {
namespace {

TEST(Fnv1a, PublishedVectors) {
  // FNV-1a 64-bit reference values (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
  EXPECT_EQ(fnv1a(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a, BytesAboveSevenBitAreNotSignExtended) {
  // One round by hand for the byte 0xff: a signed char would xor in 0xffff...ff instead.
  constexpr std::uint64_t expected = (0xcbf29ce484222325ull ^ 0xffull) * 0x100000001b3ull;
  EXPECT_EQ(fnv1a("\xff"), expected);
  EXPECT_EQ(fnv1a(std::string(1, '\0')), (0xcbf29ce484222325ull ^ 0) * 0x100000001b3ull);
}

TEST(Fnv1a, UsableAtCompileTimeAndSensitiveToEveryByte) {
  static_assert(fnv1a("a") == 0xaf63dc4c8601ec8cull);
  EXPECT_NE(fnv1a("/a/b"), fnv1a("/a/c"));
  EXPECT_NE(fnv1a("/a/b"), fnv1a("/a/b/"));
  EXPECT_NE(fnv1a("ab"), fnv1a("ba"));
}

TEST(FormatDuration, LargestTwoUnits) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59), "59s");
  EXPECT_EQ(format_duration(60), "1m 0s");
  EXPECT_EQ(format_duration(3599), "59m 59s");
  EXPECT_EQ(format_duration(3600), "1h 0m");
  EXPECT_EQ(format_duration(86399), "23h 59m");
  EXPECT_EQ(format_duration(86400), "1d 0h");
  EXPECT_EQ(format_duration(3 * 86400 + 5 * 3600 + 59), "3d 5h");
}

TEST(Clocks, MonotonicNeverGoesBackAndWallClockIsMicroseconds) {
  std::uint64_t a = mono_us(), b = mono_us();
  EXPECT_LE(a, b);
  EXPECT_GT(now_us(), 1'600'000'000'000'000ull);  // after 2020, in microseconds
}

}  // namespace
}  // namespace portal

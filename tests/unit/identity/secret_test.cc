#include "router/identity/secret.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace portal::identity {
namespace {

bool is_lower_hex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "xbc"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(Tokens, SessionTokensAreUnique64LowerHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto t = new_session_token();
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->size(), 64u);
    EXPECT_TRUE(is_lower_hex(*t)) << *t;
    EXPECT_TRUE(seen.insert(*t).second);
  }
}

TEST(Tokens, ApiKeysAre64LowerHexAndRecognised) {
  auto a = new_api_key();
  auto b = new_api_key();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_TRUE(is_lower_hex(*a));
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(looks_like_api_key(*a));
  EXPECT_FALSE(looks_like_api_key(a->substr(1)));
  EXPECT_FALSE(looks_like_api_key(a->substr(1) + "g"));
  EXPECT_FALSE(looks_like_api_key(""));
}

TEST(Encoding, HexRoundTripAndRejects) {
  std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(to_hex(bytes), "0001abff");
  EXPECT_EQ(from_hex("0001ABff"), bytes);
  EXPECT_FALSE(from_hex("abc").has_value());
  EXPECT_FALSE(from_hex("zz").has_value());
}

TEST(Encoding, Base64KnownVectorsWithoutPadding) {
  EXPECT_EQ(to_base64(""), "");
  EXPECT_EQ(to_base64("f"), "Zg");
  EXPECT_EQ(to_base64("fo"), "Zm8");
  EXPECT_EQ(to_base64("foo"), "Zm9v");
  EXPECT_EQ(to_base64("foobar"), "Zm9vYmFy");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    EXPECT_EQ(from_base64(to_base64(s)), s);
}

TEST(Encoding, Base64StrictDecoder) {
  EXPECT_FALSE(from_base64("Zg==").has_value());  // padding is not our format
  EXPECT_FALSE(from_base64("Z").has_value());     // impossible length
  EXPECT_FALSE(from_base64("Zh").has_value());    // non-zero trailing bits
  EXPECT_FALSE(from_base64("Zm9v!").has_value());
  EXPECT_FALSE(from_base64(std::string("Zm\0v", 4)).has_value());
}

TEST(Digest, Sha256KnownVector) {
  EXPECT_EQ(to_hex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace portal::identity

#include "common/value_escape.h"

#include <gtest/gtest.h>

#include <string>

namespace portal::config {
namespace {

TEST(StoreEscape, RoundTripsHostileValues) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  for (const std::string& v : std::vector<std::string>{std::string(), std::string(" "), std::string("  lead"), std::string("trail  "),
                        std::string("a\nb = c"), std::string("\\x41"), std::string("\\"), std::string("'\"; --"),
                        std::string("\xff\xfe bad utf8"), std::string("a\0b", 3), all_bytes}) {
    std::string e = escape_value(v);
    EXPECT_EQ(e.find('\n'), std::string::npos);
    EXPECT_EQ(e.find('\0'), std::string::npos);
    if (!e.empty()) {
      EXPECT_NE(e.front(), ' ');
      EXPECT_NE(e.back(), ' ');
    }
    auto back = unescape_value(e);
    ASSERT_TRUE(back.ok()) << e;
    EXPECT_EQ(*back, v);
  }
}

TEST(StoreEscape, KeepsInnerSpacesAndPunctuationReadable) {
  EXPECT_EQ(escape_value("a b=c;#d"), "a b=c;#d");
  EXPECT_EQ(escape_value(" x "), "\\x20x\\x20");
  EXPECT_EQ(escape_value("l1\nl2"), "l1\\nl2");
}

TEST(StoreEscape, RejectsBadEscapes) {
  for (const std::string& bad : std::vector<std::string>{"\\", "ab\\", "\\q", "\\x4", "\\xg0", "\\x"}) EXPECT_FALSE(unescape_value(bad).ok()) << bad;
}

}  // namespace
}  // namespace portal::config

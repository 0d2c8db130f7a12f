#include "router/store/names.h"

#include <gtest/gtest.h>

#include <string>

namespace portal::store {
namespace {

TEST(StoreNames, AcceptsPlainNames) {
  for (const std::string& n : std::vector<std::string>{"root", "a", "alice.smith", "bob_2", "x-y", "A.b-c_d", std::string(64, 'z')})
    EXPECT_TRUE(validate_name(n).ok()) << n;
}

TEST(StoreNames, RejectsHostileNames) {
  for (const std::string& n : std::vector<std::string>{"", ".", "..", ".hidden", "a/b", "../etc", "a b", "a:b", "a,b", "é", "a\xff",
                        std::string("a\0b", 3), std::string(65, 'z'), "a\n", "a=b"}) {
    auto r = validate_name(n, "user name");
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, 400);
    EXPECT_NE(r.error().message.find("invalid user name"), std::string::npos);
  }
}

TEST(StoreNames, ConfigKeysAllowLongerNames) {
  EXPECT_TRUE(validate_config_key(std::string(128, 'k')).ok());
  EXPECT_FALSE(validate_config_key(std::string(129, 'k')).ok());
  EXPECT_FALSE(validate_config_key("a b").ok());
}

}  // namespace
}  // namespace portal::store

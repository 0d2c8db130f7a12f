#include "router/store/legacy_users.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace portal::store {
namespace {

KeyGenerator counter() {
  return [n = 0]() mutable { return "gen" + std::to_string(++n); };
}

TEST(LegacyUsers, ParsesFieldsCommentsAndAutoKeys) {
  auto r = parse_legacy_users(
      "# seed\n\nroot:secret:root,admin:auto\nbob:pw::\n  carol:$sha256$s$ab:users:fixedkey  \ndave:pw2\n",
      "users.conf", counter());
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_EQ(r.items.size(), 4u);
  EXPECT_EQ(r.items[0].name, "root");
  EXPECT_EQ(r.items[0].password, "secret");
  EXPECT_EQ(r.items[0].labels, (std::vector<std::string>{"root", "admin"}));
  EXPECT_EQ(r.items[0].api_key, "gen1");
  EXPECT_EQ(r.items[0].line, 3);
  EXPECT_EQ(r.items[1].api_key, "");
  EXPECT_TRUE(r.items[1].labels.empty());
  EXPECT_EQ(r.items[2].password, "$sha256$s$ab");
  EXPECT_EQ(r.items[2].api_key, "fixedkey");
  EXPECT_EQ(r.items[3].password, "pw2");
}

TEST(LegacyUsers, PasswordMayContainColonsWithAllFourFields) {
  auto r = parse_legacy_users("eve:pa:ss:wo:rd:ops:key\n", "u", counter());
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].password, "pa:ss:wo:rd");
  EXPECT_EQ(r.items[0].labels, std::vector<std::string>{"ops"});
  EXPECT_EQ(r.items[0].api_key, "key");
  auto three = parse_legacy_users("eve:pa:ss\n", "u", counter());  // two ':' = user:password:labels
  ASSERT_EQ(three.items.size(), 1u);
  EXPECT_EQ(three.items[0].password, "pa");
  EXPECT_EQ(three.items[0].labels, std::vector<std::string>{"ss"});
}

TEST(LegacyUsers, BadLinesNamedOthersLoad) {
  auto r = parse_legacy_users("good:pw::\nnocolon\n../x:pw::\nbad:pw:la bel:\nk:pw::a key\ngood:again::\nok2:p::\n",
                              "/etc/portal/users.conf", counter());
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[1].name, "ok2");
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0].rfind("/etc/portal/users.conf:2: ", 0), 0u) << r.errors[0];
  EXPECT_EQ(r.errors[1].rfind("/etc/portal/users.conf:3: invalid user name", 0), 0u) << r.errors[1];
  EXPECT_NE(r.errors[4].find(":6: duplicate user 'good'"), std::string::npos) << r.errors[4];
}

TEST(LegacyUsers, FailedGeneratorIsAnError) {
  auto r = parse_legacy_users("root:pw::auto\n", "u", [] { return std::string(); });
  EXPECT_TRUE(r.items.empty());
  ASSERT_EQ(r.errors.size(), 1u);
}

TEST(LegacyUsers, LoadsFileOrReports404) {
  testing::TempDir dir;
  EXPECT_EQ(load_legacy_users_file(dir.path() + "/none", counter()).error().code, 404);
  testing::write_text(dir.path() + "/users.conf", "a:b:c:auto\n");
  auto r = load_legacy_users_file(dir.path() + "/users.conf", counter());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->items.at(0).api_key, "gen1");
}

}  // namespace
}  // namespace portal::store

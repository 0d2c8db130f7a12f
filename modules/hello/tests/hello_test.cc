// hello on the stub router, loaded from the built mod_hello.so.
#include <gtest/gtest.h>

#include <regex>

#include "testing/stub_router.h"

namespace {

using portal::Method;
using portal::testing::StubRouter;

class HelloTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(stub_.load_library(MOD_HELLO_PATH)); }
  StubRouter stub_;
};

TEST_F(HelloTest, DeclaresItself) {
  EXPECT_EQ(stub_.module_name(), "hello");
  auto paths = stub_.paths();
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0].path, "/hello/resources/greeting");
  EXPECT_EQ(paths[1].path, "/hello/resources/time");
  EXPECT_TRUE(paths[0].labels.empty());
}

TEST_F(HelloTest, Greeting) {
  portal::Response r = stub_.request(Method::get, "/hello/resources/greeting");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello from Portal!\n");
}

TEST_F(HelloTest, Time) {
  portal::Response r = stub_.request(Method::get, "/hello/resources/time");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(std::regex_search(r.body, std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"))) << r.body;
  EXPECT_EQ(r.body.back(), '\n');
}

TEST_F(HelloTest, UnknownPathIs404) {
  EXPECT_EQ(stub_.request(Method::get, "/hello/resources/nope").status, 404);
}

TEST_F(HelloTest, UnloadRemovesEverything) {
  ASSERT_TRUE(stub_.unload());
  EXPECT_TRUE(stub_.paths().empty());
  EXPECT_EQ(stub_.request(Method::get, "/hello/resources/greeting").status, 404);
}

}  // namespace

// myapp on the stub router, loaded from the built mod_myapp.so.
#include <gtest/gtest.h>

#include "testing/stub_router.h"

namespace {

using portal::Method;
using portal::testing::StubRouter;

class MyAppTest : public ::testing::Test {
 protected:
  void load() { ASSERT_TRUE(stub_.load_library(MOD_MYAPP_PATH)); }
  std::string get(const std::string& path) {
    portal::Response r = stub_.request(Method::get, path);
    EXPECT_EQ(r.status, 200) << path;
    return r.body;
  }
  StubRouter stub_;
};

TEST_F(MyAppTest, RegistersItsPathsWithResetForAdminsOnly) {
  load();
  EXPECT_EQ(stub_.paths().size(), 5u);
  auto reset = stub_.path("/myapp/functions/reset");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->labels, std::vector<std::string>{"admin"});
  EXPECT_TRUE(stub_.path("/myapp/functions/increment")->labels.empty());
  EXPECT_EQ(stub_.path("/myapp/resources/counter")->access, portal::Access::read);
}

TEST_F(MyAppTest, CounterIncrementsAndResets) {
  load();
  EXPECT_EQ(get("/myapp/resources/counter"), "0\n");
  EXPECT_EQ(stub_.request(Method::call, "/myapp/functions/increment").body, "1\n");
  EXPECT_EQ(stub_.request(Method::call, "/myapp/functions/increment").body, "2\n");
  EXPECT_EQ(get("/myapp/resources/counter"), "2\n");
  EXPECT_EQ(stub_.request(Method::call, "/myapp/functions/reset").status, 200);
  EXPECT_EQ(get("/myapp/resources/counter"), "0\n");
}

TEST_F(MyAppTest, DefaultMessage) {
  load();
  EXPECT_EQ(get("/myapp/resources/message"), "Hello from myapp\n");
  EXPECT_EQ(get("/myapp/resources/status"), "MyApp Status\nCounter: 0\nMessage: Hello from myapp\n");
}

TEST_F(MyAppTest, MessageFromConfigAtLoad) {
  stub_.set_config("message", "configured");
  load();
  EXPECT_EQ(get("/myapp/resources/message"), "configured\n");
}

TEST_F(MyAppTest, MessageChangesAtRuntime) {
  load();
  stub_.request(Method::call, "/myapp/functions/increment");
  stub_.set_config("message", "changed");
  EXPECT_EQ(get("/myapp/resources/status"), "MyApp Status\nCounter: 1\nMessage: changed\n");
  EXPECT_TRUE(stub_.logged("message is now \"changed\""));
}

TEST_F(MyAppTest, UnloadLeavesNothing) {
  load();
  ASSERT_TRUE(stub_.unload());
  EXPECT_TRUE(stub_.paths().empty());
  EXPECT_EQ(stub_.leftovers().paths.size(), 5u);  // removed by the host, as the SDK promises
}

}  // namespace

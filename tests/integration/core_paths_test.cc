// A running instance answers the core paths in the formats of COMPAT.md 2, and the
// portalctl tool talks to it as a script would.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <regex>

#include "instance.h"

namespace portal::itest {
namespace {

using namespace std::chrono_literals;

class CorePaths : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    inst_ = new Instance(std::vector<ModuleConf>{{"hello", {}}, {"myapp", {{"message", "configured text"}}}});
    ASSERT_TRUE(inst_->start()) << inst_->log();
  }
  static void TearDownTestSuite() {
    delete inst_;
    inst_ = nullptr;
  }
  static Instance* inst_;
};
Instance* CorePaths::inst_ = nullptr;

// Runs portalctl with `args`; returns (exit code, stdout).
std::pair<int, std::string> portalctl(const std::string& args) {
  return run_command(build_root() + "/tools/portalctl " + args + " 2>/dev/null");
}

TEST_F(CorePaths, StatusHasTheFourLines) {
  auto r = inst_->get("/core/status");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  std::regex shape("Portal v2\\.0\\.0\nStatus: running\nModules loaded: [0-9]+\nPaths registered: [0-9]+\n");
  EXPECT_TRUE(std::regex_match(r->body, shape)) << r->body;
  EXPECT_NE(r->body.find("Modules loaded: 3\n"), std::string::npos) << r->body;
}

TEST_F(CorePaths, ModulesListsProcessesWithPids) {
  auto r = inst_->get("/core/modules");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.rfind("Loaded modules:\n", 0), 0u) << r->body;
  EXPECT_NE(r->body.find("  hello            v1.0.0"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("Processes:"), std::string::npos);
  nlohmann::json hello = inst_->module("hello");
  ASSERT_TRUE(hello.is_object());
  EXPECT_EQ(hello["state"], "running");
  EXPECT_GT(hello["pid"].get<int>(), 0);
  EXPECT_NE(hello["pid"], inst_->module_pid("myapp"));
  EXPECT_TRUE(process_alive(hello["pid"].get<int>()));
  EXPECT_EQ(process_name(hello["pid"].get<int>()), "portal-worker");
}

TEST_F(CorePaths, MessagesAreCounted) {
  auto before = inst_->module("hello")["msgs"].get<std::uint64_t>();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(inst_->get("/hello/resources/greeting")->status, 200);
  EXPECT_EQ(inst_->module("hello")["msgs"].get<std::uint64_t>(), before + 5);
}

TEST_F(CorePaths, PathsListsEveryRegisteredPath) {
  auto r = inst_->get("/core/paths");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.rfind("Registered paths:\n", 0), 0u);
  char line[256];
  std::snprintf(line, sizeof line, "  %-40s \xe2\x86\x92 %s\n", "/hello/resources/greeting", "hello");
  EXPECT_NE(r->body.find(line), std::string::npos) << r->body;
  std::snprintf(line, sizeof line, "  %-40s \xe2\x86\x92 %s\n", "/core/status", "core");
  EXPECT_NE(r->body.find(line), std::string::npos) << r->body;
}

TEST_F(CorePaths, LsShowsNextLevelChildren) {
  auto r = inst_->get("/core/ls", {{"prefix", "/hello/"}});
  ASSERT_TRUE(r);
  char line[128];
  std::snprintf(line, sizeof line, "  %-30s/\n", "resources");
  EXPECT_EQ(r->body, line);
  r = inst_->get("/core/ls", {{"prefix", "/hello/resources"}});
  std::snprintf(line, sizeof line, "  %-30s [%s]\n", "greeting", "hello");
  EXPECT_NE(r->body.find(line), std::string::npos) << r->body;
  r = inst_->get("/core/ls", {{"prefix", "/nothing/here"}});
  EXPECT_EQ(r->body, "  (empty)\n");
  r = inst_->get("/core/ls");
  std::snprintf(line, sizeof line, "  %-30s/\n", "core");
  EXPECT_NE(r->body.find(line), std::string::npos) << r->body;
}

TEST_F(CorePaths, ModuleAnswersThroughItsWorker) {
  auto r = inst_->get("/hello/resources/greeting");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello from Portal!\n");
  r = inst_->get("/myapp/resources/message");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("configured text"), std::string::npos) << r->body;
}

TEST_F(CorePaths, UnknownPathsAre404WithoutBody) {
  for (const char* p : {"/nope", "/hello/resources/nope", "/core/nope", "/users/nobody", ""}) {
    auto r = inst_->get(p);
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->status, 404) << p;
    EXPECT_EQ(r->body, "") << p;
  }
}

TEST_F(CorePaths, HostileRequestsGetClearAnswersAndTheServerKeepsServing) {
  std::string huge_path = "/" + std::string(100000, 'a');
  EXPECT_EQ(inst_->get(huge_path)->status, 404);
  EXPECT_EQ(inst_->get(std::string("/hello\0/x", 9))->status, 404);
  EXPECT_EQ(inst_->get("/hello/resources/greeting/../greeting")->status, 404);
  EXPECT_EQ(inst_->get("/\xff\xfe")->status, 404);
  Headers many;
  for (int i = 0; i < 2000; ++i) many.push_back({"k" + std::to_string(i), std::string(100, 'v')});
  EXPECT_EQ(inst_->get("/hello/resources/greeting", many)->status, 200);
  EXPECT_EQ(inst_->get("/core/status")->status, 200);
}

TEST_F(CorePaths, PortalctlGetSetCallAndExitCodes) {
  auto [rc, out] = portalctl("-s " + inst_->socket() + " get /hello/resources/greeting");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "Hello from Portal!\n");
  std::tie(rc, out) = portalctl("-s " + inst_->socket() + " -v get /nope");
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(out, "404\n");
  std::tie(rc, out) = portalctl("-c " + inst_->config_path() + " call /myapp/functions/increment");
  EXPECT_EQ(rc, 0);
  std::tie(rc, out) = portalctl("-c " + inst_->config_path() + " get /core/ls prefix=/myapp");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("functions"), std::string::npos) << out;
}

TEST_F(CorePaths, PortalctlModuleList) {
  auto [rc, out] = portalctl("-s " + inst_->socket() + " module list");
  EXPECT_EQ(rc, 0);
  std::regex header("NAME +STATE +PID +RESTARTS +UPTIME +MSGS\n");
  EXPECT_TRUE(std::regex_search(out, header)) << out;
  std::regex hello_row("\nhello +running +[0-9]+ +0 +[0-9]+s +[0-9]+\n");
  EXPECT_TRUE(std::regex_search(out, hello_row)) << out;
}

}  // namespace
}  // namespace portal::itest

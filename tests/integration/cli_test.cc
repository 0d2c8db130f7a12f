// The cli module through a real instance: a client on its UNIX socket, as
// `portal -r` or a script would type (COMPAT.md 3.2, issue 4).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "cli_client.h"
#include "instance.h"

namespace portal::itest {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<ModuleConf> modules_for(const Instance &inst, std::map<std::string, std::string> cli_extra = {}) {
  cli_extra["socket"] = inst.dir() + "/run/cli.sock";
  return {{"hello", {}}, {"crashy", {}}, {"cli", cli_extra}};
}

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    inst_ = new Instance({});
    inst_->rewrite_config(modules_for(*inst_));
    ASSERT_TRUE(inst_->start()) << inst_->log();
    auto r = inst_->admin(Method::set, "/users/bob", {{"password", "bob-pw"}, {"groups", "staff"}});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 201) << r->body;
  }
  static void TearDownTestSuite() {
    delete inst_;
    inst_ = nullptr;
  }
  std::unique_ptr<CliClient> connect() {
    auto c = std::make_unique<CliClient>(inst_->dir() + "/run/cli.sock");
    EXPECT_TRUE(c->connected());
    EXPECT_TRUE(c->expect("Portal v2.0.0 CLI\nType 'help' for available commands.\nportal:/> ")) << c->all();
    return c;
  }
  static Instance *inst_;
};
Instance *Cli::inst_ = nullptr;

TEST_F(Cli, LoginRightAndWrongPassword) {
  auto c = connect();
  EXPECT_EQ(c->run("whoami"), "anonymous (not logged in)\n") << "an unmapped UNIX user is anonymous";
  EXPECT_EQ(c->run("login root wrong-password"), "Login failed\n");
  EXPECT_EQ(c->run(std::string("login root ") + kRootPassword), "Logged in as root\n");
  EXPECT_EQ(c->run("whoami"), "User: root\nLabels: root, admin\n");
  EXPECT_EQ(c->run("version"), "Portal v2.0.0\n");
  EXPECT_EQ(c->run("status").rfind("Portal v2.0.0\nStatus: running\n", 0), 0u);
}

TEST_F(Cli, RelativePathsUnderHello) {
  auto c = connect();
  EXPECT_EQ(c->run("cd /hello", "portal:/hello> "), "");
  std::string ls = c->run("ls", "portal:/hello> ");
  EXPECT_NE(ls.find("resources"), std::string::npos) << ls;
  EXPECT_EQ(c->run("get resources/greeting", "portal:/hello> "), "Hello from Portal!\n");
  EXPECT_EQ(c->run("cd nowhere", "portal:/hello> "), "No such path\n");
  EXPECT_EQ(c->run("pwd", "portal:/hello> "), "/hello\n");
  EXPECT_EQ(c->run("help resources/greeting", "portal:/hello> "),
            "Path: /hello/resources/greeting\nModule: hello\nKind: resource (read)\n");
  EXPECT_EQ(c->run("help /nope/x", "portal:/hello> "), "No such path: /nope/x\n");
  std::string mod = c->run("help hello", "portal:/hello> ");
  EXPECT_EQ(mod.rfind("Module 'hello':\n  Resources:\n    /hello/resources/greeting\n", 0), 0u) << mod;
}

TEST_F(Cli, PlainUserIsDeniedAdminSucceeds) {
  auto c = connect();
  EXPECT_EQ(c->run("login bob bob-pw"), "Logged in as bob\n");
  std::string out = c->run("user create x y");
  EXPECT_NE(out.find("(status 403)"), std::string::npos) << out;
  EXPECT_EQ(c->run(std::string("login root ") + kRootPassword), "Logged in as root\n");
  EXPECT_EQ(c->run("user create x y"), "User created\n");
  EXPECT_NE(c->run("user list").find("  x "), std::string::npos);
  EXPECT_EQ(c->run("logout"), "Logged out\n");
  EXPECT_EQ(c->run("whoami"), "anonymous (not logged in)\n");
}

TEST_F(Cli, SubscribePrintsTheEvent) {
  auto c = connect();
  EXPECT_EQ(c->run("subscribe /events/crashy/*"), "Subscribed to /events/crashy/*\n") << c->all();
  auto r = inst_->admin(Method::call, "/crashy/functions/emit", {{"path", "/events/crashy/ping"}}, "pong");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(c->expect("[EVENT] /events/crashy/ping: pong\nportal:/> ")) << c->all();
  EXPECT_EQ(c->run("unsubscribe /events/crashy/*"), "Unsubscribed from /events/crashy/*\n");
}

TEST_F(Cli, UnknownCommandAndQuit) {
  auto c = connect();
  EXPECT_EQ(c->run("frob"),
            "Unknown command: frob\nTry: get /frob  \xc2\xb7  "
            "help frob  \xc2\xb7  ls /frob\n");
  ASSERT_TRUE(c->type("quit\n"));
  EXPECT_TRUE(c->expect("Goodbye.\n"));
}

TEST_F(Cli, SetSendsTheRestOfTheLineAsTheBody) {
  auto c = connect();
  EXPECT_EQ(c->run("cd /crashy/functions", "portal:/crashy/functions> "), "");
  EXPECT_EQ(c->run("set echo hello,  world", "portal:/crashy/functions> "), "hello,  world\n");
  EXPECT_EQ(c->run("set /nope/x 1", "portal:/crashy/functions> "), "(unavailable)\n(status 404)\n");
}

TEST_F(Cli, NodePathsAreLocalWithoutTheNodeModule) {
  auto c = connect();
  EXPECT_EQ(c->run("ls /node"), "  (empty)\n");
  EXPECT_EQ(c->run("ls /node/factory/iot"), "  (empty)\n");
  EXPECT_EQ(c->run("cd /node/factory"), "No such path\n");
}

TEST_F(Cli, TopShowsTheRealWorkersUntilQ) {
  auto c = connect();
  const int hello_pid = inst_->module_pid("hello");
  ASSERT_GT(hello_pid, 0);
  ASSERT_TRUE(c->type("__winsize 30 100\ntop\n"));
  ASSERT_TRUE(c->expect("\x1b[?1049h")) << c->all();
  ASSERT_TRUE(c->expect("MODULE         STATE          PID RESTARTS")) << c->all();
  // The worker's pid from the router, its memory from /proc: "<pid> ... <n.n>M".
  const std::string pid = std::to_string(hello_pid);
  ASSERT_TRUE(c->expect("\r\nhello          running    " + std::string(7 - pid.size(), ' ') + pid)) << c->all();
  ASSERT_TRUE(c->expect("M\x1b[K")) << c->all();
  ASSERT_TRUE(c->expect("\x1b[HPortal top", 5s)) << "refreshed every second";
  ASSERT_TRUE(c->expect("\r\nhello ")) << c->all();
  ASSERT_TRUE(c->type("q"));
  EXPECT_TRUE(c->expect("\x1b[?25h\x1b[?1049lportal:/> ")) << c->all();
  EXPECT_EQ(c->run("version"), "Portal v2.0.0\n");
}

TEST(CliPeerUsers, MappedUnixUserActsWithoutLogin) {
  Instance inst({});
  inst.rewrite_config(modules_for(inst, {{"peer_users", std::to_string(::getuid()) + ":root"}}));
  ASSERT_TRUE(inst.start()) << inst.log();
  CliClient c(inst.dir() + "/run/cli.sock");
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.expect("portal:/> "));
  EXPECT_EQ(c.run("whoami"), "User: root\nLabels: root, admin\n");
  EXPECT_EQ(c.run("user create carol carol-pw"), "User created\n") << "as root, through the peer map";
}

}  // namespace
}  // namespace portal::itest

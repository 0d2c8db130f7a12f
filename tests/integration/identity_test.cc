// Identity, access and the core services through real processes: portald, the router and
// module workers, reached with portalctl as a script would (COMPAT.md 2, issue 3).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "instance.h"

namespace portal::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::pair<int, std::string> portalctl(const Instance& inst, const std::string& args) {
  return run_command(build_root() + "/tools/portalctl -s " + inst.socket() + " " + args + " 2>&1");
}

std::string as_root() { return std::string("--api-key ") + kRootKey + " "; }

Credentials user_pw(const std::string& user, const std::string& pw) {
  Credentials c;
  c.username = user;
  c.password = pw;
  return c;
}

// Creates a user with a password and groups, as root.
void make_user(Instance& inst, const std::string& name, const std::string& pw, const std::string& groups) {
  auto r = inst.admin(Method::set, "/users/" + name, {{"password", pw}, {"groups", groups}});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->status, 201) << r->body;
}

class Identity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    inst_ = new Instance({{"hello", {}}, {"myapp", {}}, {"crashy", {}}});
    ASSERT_TRUE(inst_->start()) << inst_->log();
    make_user(*inst_, "alice", "alice-pw", "admin");
    make_user(*inst_, "bob", "bob-pw", "staff");
  }
  static void TearDownTestSuite() {
    delete inst_;
    inst_ = nullptr;
  }
  static Instance* inst_;
};
Instance* Identity::inst_ = nullptr;

TEST_F(Identity, CorePathOutputsThroughPortalctl) {
  auto [rc, out] = portalctl(*inst_, "get /users");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out.rfind("Users:\n", 0), 0u) << out;
  EXPECT_NE(out.find("  alice            groups: admin\n"), std::string::npos) << out;
  std::tie(rc, out) = portalctl(*inst_, "get /users/bob");
  EXPECT_EQ(out, "User: bob\nGroups: staff\nAPI Key: set\n");
  std::tie(rc, out) = portalctl(*inst_, "get /auth/whoami");
  EXPECT_EQ(out, "anonymous (not logged in)\n");
  std::tie(rc, out) = portalctl(*inst_, as_root() + "get /auth/whoami");
  EXPECT_EQ(out, "User: root\nLabels: root, admin\n");
  std::tie(rc, out) = portalctl(*inst_, "--user bob --password bob-pw get /auth/whoami");
  EXPECT_EQ(out, "User: bob\nLabels: staff\n");
  std::tie(rc, out) = portalctl(*inst_, "get /groups");
  EXPECT_EQ(out.rfind("Groups:\n", 0), 0u);
  EXPECT_NE(out.find("  staff                1 members\n"), std::string::npos) << out;
  std::tie(rc, out) = portalctl(*inst_, "get /events");
  EXPECT_EQ(out.rfind("Events registered: ", 0), 0u) << out;
  EXPECT_NE(out.find("/events/crashy/ping"), std::string::npos) << out;
  EXPECT_EQ(out.find("/events/auth/login"), std::string::npos) << "labelled admin: hidden from anonymous";
  std::tie(rc, out) = portalctl(*inst_, as_root() + "get /events");
  EXPECT_NE(out.find("/events/auth/login"), std::string::npos) << out;
  std::tie(rc, out) = portalctl(*inst_, "get /core/storage");
  EXPECT_EQ(out, "Storage backends:\n  file: active (" + inst_->data_dir() + ")\n  (no database backends)\n");
  std::tie(rc, out) = portalctl(*inst_, "call /core/locks/lock resource=printer owner=me");
  EXPECT_EQ(out, "Locked: printer (owner: me)\n");
  std::tie(rc, out) = portalctl(*inst_, "call /core/locks/unlock resource=printer owner=you");
  EXPECT_NE(rc, 0);
  std::tie(rc, out) = portalctl(*inst_, "get /core/locks");
  EXPECT_NE(out.find("printer"), std::string::npos) << out;
  std::tie(rc, out) = portalctl(*inst_, "call /core/locks/unlock resource=printer owner=me");
  EXPECT_EQ(out, "Unlocked: printer\n");
  std::tie(rc, out) = portalctl(*inst_, "get /core/resolve cwd=/hello target=resources");
  EXPECT_EQ(out, "/hello/resources");
  std::tie(rc, out) = portalctl(*inst_, "get /core/config/list module=ctl");
  EXPECT_EQ(out.rfind("Config for module 'ctl':\n  mod_ctl.socket", 0), 0u) << out;
}

TEST_F(Identity, LoginTokenAndLogoutWithPortalctl) {
  auto [rc, out] = portalctl(*inst_, "call /auth/login username=bob password=bob-pw");
  ASSERT_EQ(rc, 0) << out;
  ASSERT_EQ(out.size(), 65u) << out;
  std::string token = out.substr(0, 64);
  std::tie(rc, out) = portalctl(*inst_, "--token " + token + " get /auth/whoami");
  EXPECT_EQ(out, "User: bob\nLabels: staff\n");
  std::tie(rc, out) = portalctl(*inst_, "call /auth/logout token=" + token);
  EXPECT_EQ(out, "Logged out\n");
  std::tie(rc, out) = portalctl(*inst_, "--token " + token + " get /auth/whoami");
  EXPECT_NE(rc, 0);
  std::tie(rc, out) = portalctl(*inst_, "--user bob --password wrong get /hello/resources/greeting");
  EXPECT_NE(rc, 0) << "wrong credentials are refused, not downgraded to anonymous";
}

TEST_F(Identity, AdminMutatesPlainUserGets403AnonymousOnlyOpenPaths) {
  // Open path: everyone. Labelled path (/myapp/functions/reset, label admin): admins.
  auto r = inst_->get("/myapp/resources/counter");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = inst_->call("/myapp/functions/reset");
  EXPECT_EQ(r->status, 403);
  r = inst_->as(user_pw("bob", "bob-pw"), Method::call, "/myapp/functions/reset");
  EXPECT_EQ(r->status, 403);
  r = inst_->as(user_pw("alice", "alice-pw"), Method::call, "/myapp/functions/reset");
  EXPECT_EQ(r->status, 200);
  // Mutations of users, groups, modules, config.
  auto [rc, out] = portalctl(*inst_, "--user bob --password bob-pw set /users/carol password=x");
  EXPECT_NE(rc, 0) << out;
  std::tie(rc, out) = portalctl(*inst_, "set /users/carol password=x");
  EXPECT_NE(rc, 0) << out;
  std::tie(rc, out) = portalctl(*inst_, "--user alice --password alice-pw set /users/carol password=carol-pw");
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) = portalctl(*inst_, "-v --user bob --password bob-pw call /core/modules/hello action=restart");
  EXPECT_EQ(out.rfind("403", 0), 0u) << out;
  std::tie(rc, out) = portalctl(*inst_, "-v call /core/config/set module=myapp key=message value=x");
  EXPECT_EQ(out.rfind("403", 0), 0u) << out;
  std::tie(rc, out) = portalctl(*inst_, "-v --user bob --password bob-pw set /groups/ops description=Ops");
  EXPECT_EQ(out.rfind("403", 0), 0u) << out;
  std::tie(rc, out) = portalctl(*inst_, "-v --user alice --password alice-pw set /groups/ops description=Ops");
  EXPECT_EQ(out, "201\nGroup 'ops' created\n");
  std::tie(rc, out) = portalctl(*inst_, "--user alice --password alice-pw call /users/carol action=delete");
  EXPECT_EQ(out, "User 'carol' deleted\n");
}

TEST_F(Identity, AWorkerCannotSetItsOwnIdentity) {
  auto r = inst_->call("/crashy/functions/call", {{"path", "/auth/whoami"}, {"as_user", "root"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "anonymous (not logged in)\n");
  r = inst_->call("/crashy/functions/call", {{"path", "/auth/whoami"}, {"assert_user", "root"}});
  EXPECT_EQ(r->body, "anonymous (not logged in)\n") << "no assert_identity capability";
  r = inst_->call("/crashy/functions/call", {{"path", "/myapp/functions/reset"}, {"as_user", "root"}});
  EXPECT_EQ(r->status, 403);
}

TEST_F(Identity, SecretSettingsAreForAdminsOnly) {
  auto r = inst_->admin(Method::call, "/core/config/set", {{"module", "hello"}, {"key", "api_token"}, {"value", "t0k"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto [rc, out] = portalctl(*inst_, "get /core/config/list module=hello");
  EXPECT_NE(out.find("mod_hello.api_token"), std::string::npos) << out;
  EXPECT_EQ(out.find("t0k"), std::string::npos) << out;
  std::tie(rc, out) = portalctl(*inst_, "-v get /core/config/get module=hello key=api_token");
  EXPECT_EQ(out.rfind("403", 0), 0u) << out;
  std::tie(rc, out) = portalctl(*inst_, as_root() + "get /core/config/get module=hello key=api_token");
  EXPECT_EQ(out, "t0k");
  EXPECT_EQ(inst_->log().find("t0k"), std::string::npos) << "secret values never reach the log";
}

TEST_F(Identity, HostileInputGetsClearErrorsAndTheServerKeepsServing) {
  std::string long_name(10000, 'a');
  auto r = inst_->admin(Method::set, "/users/" + long_name, {{"password", "x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("invalid user name"), std::string::npos) << r->body;
  r = inst_->admin(Method::set, "/users/ok1", {{"groups", std::string(5000, 'l')}});
  EXPECT_EQ(r->status, 400);
  for (std::string bad : {std::string(".."), std::string("a\0b", 3), std::string("\xc3\x28"), std::string("x y")}) {
    r = inst_->admin(Method::set, "/users/" + bad, {{"password", "x"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
  }
  r = inst_->admin(Method::set, "/users/a/../b", {{"password", "x"}});
  EXPECT_EQ(r->status, 404);
  r = inst_->get("/" + std::string(200000, 'p'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = inst_->call("/auth/login", {{"username", std::string(1 << 20, 'u')}, {"password", std::string(1 << 20, 'p')}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << inst_->log().substr(inst_->log().size() > 3000 ? inst_->log().size() - 3000 : 0);
  r = inst_->as(user_pw(std::string(70000, 'u'), "x"), Method::get, "/hello/resources/greeting");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = inst_->get("/hello/resources/greeting", {{"h", std::string(4 << 20, 'v')}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = inst_->get("/core/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Users, groups, keys and runtime config live in the store: a router restart (kill -9)
// and a full restart of the instance lose none of them.
TEST(IdentityPersistence, SurvivesRouterRestartAndFullRestart) {
  Instance inst({{"hello", {}}, {"myapp", {{"message", "from the file"}}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  make_user(inst, "dave", "dave-pw", "staff");
  auto r = inst.admin(Method::set, "/groups/ops", {{"description", "Operators"}});
  ASSERT_EQ(r->status, 201);
  r = inst.admin(Method::call, "/groups/ops/add", {{"user", "dave"}});
  ASSERT_EQ(r->status, 200);
  r = inst.as(user_pw("dave", "dave-pw"), Method::call, "/auth/key/rotate");
  ASSERT_EQ(r->status, 200);
  std::string key = r->body.substr(std::string("New API Key: ").size(), 64);
  r = inst.admin(Method::call, "/core/config/set", {{"module", "myapp"}, {"key", "message"}, {"value", "set at runtime"}});
  ASSERT_EQ(r->status, 200) << r->body;
  r = inst.get("/myapp/resources/message");
  EXPECT_EQ(r->body, "set at runtime\n") << "the running module sees the new value";

  auto check = [&](const char* when) {
    auto w = inst.as(key_credentials(key), Method::get, "/auth/whoami");
    ASSERT_TRUE(w) << when;
    EXPECT_EQ(w->body, "User: dave\nLabels: staff, ops\n") << when;
    w = inst.as(user_pw("dave", "dave-pw"), Method::get, "/auth/whoami");
    EXPECT_EQ(w->status, 200) << when;
    w = inst.get("/groups/ops");
    EXPECT_EQ(w->body, "Group: ops\nDescription: Operators\nMembers: dave\n") << when;
    w = inst.get("/core/config/get", {{"module", "myapp"}, {"key", "message"}});
    EXPECT_EQ(w->body, "set at runtime") << when;
    w = inst.get("/myapp/resources/message");
    EXPECT_EQ(w->body, "set at runtime\n") << when;
  };

  pid_t router = inst.router_pid();
  ASSERT_GT(router, 0);
  ::kill(router, SIGKILL);
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until && (inst.router_pid() == router || inst.router_pid() <= 0))
    std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(inst.wait_ready("myapp", 20s));
  check("after the router restart");

  ASSERT_TRUE(inst.stop());
  ASSERT_TRUE(inst.start()) << inst.log();
  check("after a full restart");
}

// A user file edited into garbage: a clear error naming it; every other user still loads.
TEST(IdentityStore, GarbageUserFileIsReportedAndSkipped) {
  Instance inst(std::vector<ModuleConf>{{"hello", {}}});
  {
    std::ofstream junk(inst.data_dir() + "/users/junk.conf");
    junk << "\x01\x02\x03 this is not ini\n[[[\n";
  }
  ASSERT_TRUE(inst.start()) << inst.log();
  auto r = inst.admin(Method::get, "/auth/whoami");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "User: root\nLabels: root, admin\n");
  EXPECT_EQ(inst.get("/users/junk")->status, 404);
  std::string log = inst.log();
  EXPECT_NE(log.find("users/junk.conf:1"), std::string::npos) << log;
}

// A subscriber that sleeps on every event delays nobody else.
TEST(IdentityEvents, SlowSubscriberDoesNotDelayOtherRequests) {
  Instance inst({{"hello", {}}, {"crashy", {{"subscribe", "/events/crashy/*"}, {"subscriber_delay_ms", "200"}}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  auto r = inst.call("/crashy/functions/emit", {{"path", "/events/crashy/ping"}, {"count", "300"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // 300 events at 200 ms each keep the subscriber busy for a minute; the rest answers now.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    auto g = inst.get("/hello/resources/greeting");
    ASSERT_TRUE(g);
    ASSERT_EQ(g->status, 200);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, 10s) << "requests waited for the slow subscriber";
  auto ev = inst.get("/crashy/resources/events");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->status, 200) << "the subscriber's own handlers still answer";
  EXPECT_EQ(ev->body.rfind("seen=", 0), 0u) << ev->body;
}

// Only a module granted assert_identity may pass an identity it established.
TEST(IdentityAssert, CapableModuleAssertsAndTheRouterRecordsIt) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"assert_identity", "true"}}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  auto r = inst.call("/crashy/functions/call", {{"path", "/auth/whoami"}, {"assert_user", "root"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "User: root\nLabels: root, admin\n");
  r = inst.call("/crashy/functions/call", {{"path", "/auth/whoami"}, {"assert_user", "nobody"}});
  EXPECT_EQ(r->body, "anonymous (not logged in)\n");
}

}  // namespace
}  // namespace portal::itest

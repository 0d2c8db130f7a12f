// Identity, ACL, events, traces, runtime config and locks on the real router and loop
// (the test plays portald and the workers). The store is a temporary data_dir.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "router/identity/password.h"
#include "router/identity/secret.h"
#include "router_fixture.h"

namespace portal::router {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::FakeWorker;

constexpr const char* kRootKey = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr const char* kAliceKey = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr const char* kRemoteKey = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
constexpr const char* kBobKey = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

struct Reply {
  std::uint32_t status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

pb::Credentials key(const char* k) {
  pb::Credentials c;
  c.set_api_key(k);
  return c;
}

pb::Credentials password(const std::string& user, const std::string& pw) {
  pb::Credentials c;
  c.set_username(user);
  c.set_password(pw);
  return c;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class RouterIdentityTest : public testing::RouterTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portal-router-id-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::create_directories(dir_ + "/users");
    write_user("root", "root-pw", kRootKey, "root,admin");
    write_user("alice", "alice-pw", kAliceKey, "admin");
    write_user("bob", "bob-pw", kBobKey, "staff");
    // The original's hash: sha256("salt" || "legacy-pw").
    std::string legacy = "$sha256$salt$" + identity::to_hex(identity::sha256("saltlegacy-pw"));
    write_user("old", legacy, "", "staff");
    prepare();
    RouterTest::SetUp();
  }
  void TearDown() override {
    RouterTest::TearDown();
    fs::remove_all(dir_);
  }
  virtual void prepare() {}
  void configure(pb::Configure& c) override {
    (*c.mutable_values())["core.data_dir"] = dir_;
    (*c.mutable_values())["core.scrypt_log2_n"] = "10";  // cheap hashes: this tests behaviour, not cost
    (*c.mutable_values())["mod_node.assert_identity"] = "true";
    (*c.mutable_values())["mod_shell.peer_users"] = "0:root, 1000:bob";
    (*c.mutable_values())["mod_mod.greeting"] = "hello";
    (*c.mutable_values())["mod_mod.db_password"] = "s3cret";
  }
  void write_user(const std::string& name, const std::string& pw, const std::string& k, const std::string& groups) {
    std::ofstream f(dir_ + "/users/" + name + ".conf");
    f << "password = " << pw << "\n";
    if (!k.empty()) f << "api_key = " << k << "\n";
    f << "groups = " << groups << "\n";
  }

  // Sends a request from `w` and waits for its answer (other envelopes are kept aside).
  Reply call(FakeWorker& w, pb::Method method, const std::string& path,
             std::vector<std::pair<std::string, std::string>> headers = {}, pb::Credentials cred = {},
             std::string body = {}) {
    pb::Envelope env;
    auto* req = env.mutable_request();
    std::uint64_t id = next_id_++;
    req->set_id(id);
    req->set_path(path);
    req->set_method(method);
    req->set_body(body);
    for (auto& [k, v] : headers) {
      auto* h = req->add_headers();
      h->set_key(k);
      h->set_value(v);
    }
    *req->mutable_ctx()->mutable_credentials() = cred;
    w.send(env);
    for (;;) {
      auto got = w.next(5s);
      if (!got) return {};
      if (got->has_response() && got->response().id() == id) {
        Reply r{got->response().status(), got->response().body(), {}};
        for (const auto& h : got->response().headers()) r.headers[h.key()] = h.value();
        return r;
      }
      aside_.push_back(*got);
    }
  }
  // Serves the next request that reaches `w` with `status` and the request's user as body.
  std::optional<pb::Message> serve(FakeWorker& w, std::uint32_t status = 200) {
    auto got = w.next(5s);
    if (!got || !got->has_request()) return std::nullopt;
    w.respond(got->request().id(), status, got->request().ctx().auth().user());
    return got->request();
  }

  std::string dir_;
  std::uint64_t next_id_ = 1000;
  std::vector<pb::Envelope> aside_;
};

TEST_F(RouterIdentityTest, ApiKeyResolvesToTheUserWithLabelsAndSecretsStopAtTheRouter) {
  auto mod = ready("mod", {"/mod/x"});
  auto cli = ready("cli", {});
  pb::Envelope env;
  auto* req = env.mutable_request();
  req->set_id(1);
  req->set_path("/mod/x");
  *req->mutable_ctx()->mutable_credentials() = key(kAliceKey);
  cli->send(env);
  auto got = mod->next();
  ASSERT_TRUE(got && got->has_request());
  EXPECT_EQ(got->request().ctx().auth().user(), "alice");
  ASSERT_EQ(got->request().ctx().auth().labels_size(), 1);
  EXPECT_EQ(got->request().ctx().auth().labels(0), "admin");
  EXPECT_FALSE(got->request().ctx().has_credentials()) << "the key must not reach the module";
}

TEST_F(RouterIdentityTest, WrongCredentialsAre401AndNoneIsAnonymous) {
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::GET, "/auth/whoami", {}, key("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"));
  EXPECT_EQ(r.status, 401u);
  pb::Credentials tok;
  tok.set_token("not-a-token");
  r = call(*cli, pb::GET, "/auth/whoami", {}, tok);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.body, "Invalid or expired token\n");
  r = call(*cli, pb::GET, "/auth/whoami");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "anonymous (not logged in)\n");
  r = call(*cli, pb::GET, "/auth/whoami", {}, key(kRootKey));
  EXPECT_EQ(r.body, "User: root\nLabels: root, admin\n");
}

TEST_F(RouterIdentityTest, PasswordLoginSessionAndLogout) {
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::CALL, "/auth/login", {{"username", "bob"}, {"password", "bob-pw"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_EQ(r.body.size(), 65u);
  std::string token = r.body.substr(0, 64);
  pb::Credentials tok;
  tok.set_token(token);
  r = call(*cli, pb::GET, "/auth/whoami", {}, tok);
  EXPECT_EQ(r.body, "User: bob\nLabels: staff\n");
  r = call(*cli, pb::GET, "/auth/whoami", {}, password("bob", "bob-pw"));  // basic-style credentials
  EXPECT_EQ(r.body, "User: bob\nLabels: staff\n");
  r = call(*cli, pb::CALL, "/auth/logout", {{"token", token}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "Logged out\n");
  r = call(*cli, pb::GET, "/auth/whoami", {}, tok);
  EXPECT_EQ(r.status, 401u);
  r = call(*cli, pb::CALL, "/auth/login", {{"username", "bob"}, {"password", "wrong"}});
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.body, "Authentication failed\n");
  r = call(*cli, pb::CALL, "/auth/login", {{"username", "nobody"}, {"password", "x"}});
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.body, "Authentication failed\n");
  r = call(*cli, pb::CALL, "/auth/login");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body, "Provide username+password or api_key\n");
  r = call(*cli, pb::CALL, "/auth/login", {{"api_key", kBobKey}});
  EXPECT_EQ(r.status, 200u);
}

TEST_F(RouterIdentityTest, LegacyAndPlainPasswordsAreUpgradedToScrypt) {
  // Plain text in a store file is hashed as soon as the router loads it.
  bool hashed = false;
  for (int i = 0; i < 200 && !hashed; ++i) {
    hashed = read_file(dir_ + "/users/bob.conf").find("$scrypt$") != std::string::npos;
    if (!hashed) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(hashed) << read_file(dir_ + "/users/bob.conf");
  EXPECT_EQ(read_file(dir_ + "/users/bob.conf").find("bob-pw"), std::string::npos);
  // The original's $sha256$ value is accepted once and replaced after the good login.
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::CALL, "/auth/login", {{"username", "old"}, {"password", "legacy-pw"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  bool upgraded = false;
  for (int i = 0; i < 200 && !upgraded; ++i) {
    upgraded = read_file(dir_ + "/users/old.conf").find("$scrypt$") != std::string::npos;
    if (!upgraded) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(upgraded) << read_file(dir_ + "/users/old.conf");
  r = call(*cli, pb::CALL, "/auth/login", {{"username", "old"}, {"password", "legacy-pw"}});
  EXPECT_EQ(r.status, 200u);
}

TEST_F(RouterIdentityTest, RepeatedFailuresAreThrottledAndEmitted) {
  auto watcher = ready("watcher", {});
  pb::Envelope sub;
  sub.mutable_subscribe()->set_id(1);
  sub.mutable_subscribe()->set_subscription(7);
  sub.mutable_subscribe()->set_pattern("/events/auth/*");
  watcher->send(sub);
  auto ok = watcher->next();
  ASSERT_TRUE(ok && ok->has_response());
  EXPECT_EQ(ok->response().status(), 200u);
  auto cli = ready("cli", {});
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(call(*cli, pb::CALL, "/auth/login", {{"username", "bob"}, {"password", "bad"}}).status, 401u);
  Reply r = call(*cli, pb::CALL, "/auth/login", {{"username", "bob"}, {"password", "bad"}});
  EXPECT_EQ(r.status, 401u);  // the 6th failure locks the name
  r = call(*cli, pb::CALL, "/auth/login", {{"username", "bob"}, {"password", "bob-pw"}});
  EXPECT_EQ(r.status, 429u) << "locked even with the right password";
  EXPECT_NE(r.body.find("Too many failed logins"), std::string::npos);
  int failures = 0;
  while (auto ev = watcher->next(500ms)) {
    if (!ev->has_event()) continue;
    EXPECT_EQ(ev->event().subscription(), 7u);
    if (ev->event().path() == "/events/auth/login_failed") {
      ++failures;
      EXPECT_NE(ev->event().body().find("user=bob"), std::string::npos);
      EXPECT_EQ(ev->event().body().find("bad"), std::string::npos) << "never the password";
    }
  }
  EXPECT_EQ(failures, 6);
}

TEST_F(RouterIdentityTest, AclOnExactAndWildcardRoutes) {
  auto mod = attach("mod");
  pb::Envelope env;
  auto* h = env.mutable_hello();
  h->set_module("mod");
  h->set_generation(1);
  auto* p = h->add_paths();
  p->set_path("/mod/admin");
  p->add_labels("admin");
  p = h->add_paths();
  p->set_path("/sec/*");
  p->add_labels("staff");
  h->add_paths()->set_path("/mod/open");
  mod->send(env);
  pb::Control c;
  while (control(c) && !c.has_worker_ready()) {
  }
  auto cli = ready("cli", {});
  EXPECT_EQ(call(*cli, pb::GET, "/mod/admin").status, 403u);
  EXPECT_EQ(call(*cli, pb::GET, "/mod/admin", {}, key(kBobKey)).status, 403u);
  EXPECT_EQ(call(*cli, pb::GET, "/sec/deep/path").status, 403u) << "wildcard routes are checked too";
  std::thread server([&] {
    for (int i = 0; i < 4; ++i) serve(*mod);
  });
  EXPECT_EQ(call(*cli, pb::GET, "/mod/admin", {}, key(kAliceKey)).status, 200u);
  EXPECT_EQ(call(*cli, pb::GET, "/mod/admin", {}, key(kRootKey)).status, 200u);
  EXPECT_EQ(call(*cli, pb::GET, "/sec/deep/path", {}, key(kBobKey)).status, 200u);
  EXPECT_EQ(call(*cli, pb::GET, "/mod/open").status, 200u);
  server.join();
  // The admin gate of operator actions.
  EXPECT_EQ(call(*cli, pb::CALL, "/core/modules/mod", {{"action", "restart"}}).status, 403u);
  EXPECT_EQ(call(*cli, pb::CALL, "/core/modules/mod", {{"action", "restart"}}, key(kBobKey)).status, 403u);
}

TEST_F(RouterIdentityTest, UsersAndGroupsThroughTheCorePaths) {
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::GET, "/users");
  EXPECT_EQ(r.body.rfind("Users:\n", 0), 0u);
  EXPECT_NE(r.body.find("  alice            groups: admin\n"), std::string::npos) << r.body;
  r = call(*cli, pb::GET, "/users/alice");
  EXPECT_EQ(r.body, "User: alice\nGroups: admin\nAPI Key: set\n");
  EXPECT_EQ(call(*cli, pb::GET, "/users/nobody").status, 404u);
  // Mutations: admins only.
  EXPECT_EQ(call(*cli, pb::SET, "/users/carol", {{"password", "c"}}).status, 403u);
  EXPECT_EQ(call(*cli, pb::SET, "/users/carol", {{"password", "c"}}, key(kBobKey)).status, 403u);
  r = call(*cli, pb::SET, "/users/carol", {{"password", "carol-pw"}, {"groups", "staff,ops"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_TRUE(fs::exists(dir_ + "/users/carol.conf"));
  r = call(*cli, pb::GET, "/users/carol");
  EXPECT_EQ(r.body, "User: carol\nGroups: staff ops\nAPI Key: set\n");
  r = call(*cli, pb::SET, "/users/carol", {{"groups", "staff"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "User 'carol' updated\n");
  // Only root hands out `root`.
  r = call(*cli, pb::SET, "/users/carol", {{"groups", "root"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 403u);
  // Self-service password change; someone else's needs an admin.
  r = call(*cli, pb::CALL, "/users/carol/password", {{"password", "new-pw"}}, password("carol", "carol-pw"));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, "Password changed\n");
  EXPECT_EQ(call(*cli, pb::CALL, "/users/alice/password", {{"password", "x"}}, key(kBobKey)).status, 403u);
  // Groups.
  r = call(*cli, pb::SET, "/groups/ops", {{"description", "Operators"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 201u);
  EXPECT_EQ(r.body, "Group 'ops' created\n");
  r = call(*cli, pb::CALL, "/groups/ops/add", {{"user", "carol"}}, key(kAliceKey));
  EXPECT_EQ(r.body, "Added 'carol' to group 'ops'\n");
  r = call(*cli, pb::GET, "/groups/ops");
  EXPECT_EQ(r.body, "Group: ops\nDescription: Operators\nMembers: carol\n");
  r = call(*cli, pb::GET, "/groups");
  EXPECT_NE(r.body.find("  ops                  1 members\n"), std::string::npos) << r.body;
  r = call(*cli, pb::CALL, "/groups/ops/remove", {{"user", "carol"}}, key(kAliceKey));
  EXPECT_EQ(r.body, "Removed 'carol' from group 'ops'\n");
  EXPECT_EQ(call(*cli, pb::CALL, "/groups/ops/add", {{"user", "zed"}}, key(kAliceKey)).status, 404u);
  // Deletion.
  r = call(*cli, pb::CALL, "/users/carol", {{"action", "delete"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(fs::exists(dir_ + "/users/carol.conf"));
  EXPECT_EQ(call(*cli, pb::CALL, "/users/root", {{"action", "delete"}}, key(kAliceKey)).status, 409u);
  // Hostile names never reach the file system.
  for (std::string bad : {std::string(".."), std::string("a\0b", 3), std::string("\xff\xfe"), std::string(200, 'x'),
                          std::string("a b")})
    EXPECT_EQ(call(*cli, pb::SET, "/users/" + bad, {{"password", "p"}}, key(kRootKey)).status, 400u) << bad;
  EXPECT_EQ(call(*cli, pb::SET, "/users/a/b", {{"password", "p"}}, key(kRootKey)).status, 404u);
  EXPECT_EQ(call(*cli, pb::SET, "/users/dave", {{"groups", std::string(100, 'g') + ",x"}}, key(kRootKey)).status,
            400u);
}

TEST_F(RouterIdentityTest, ApiKeyShowAndRotatePersist) {
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::GET, "/auth/key", {}, key(kBobKey));
  EXPECT_EQ(r.body, std::string("User: bob\nAPI Key: ") + kBobKey + "\n");
  EXPECT_EQ(call(*cli, pb::GET, "/auth/key").status, 401u);
  r = call(*cli, pb::CALL, "/auth/key/rotate", {}, key(kBobKey));
  ASSERT_EQ(r.status, 200u);
  ASSERT_EQ(r.body.rfind("New API Key: ", 0), 0u);
  std::string fresh = r.body.substr(13, 64);
  EXPECT_NE(read_file(dir_ + "/users/bob.conf").find(fresh), std::string::npos);
  EXPECT_EQ(call(*cli, pb::GET, "/auth/whoami", {}, key(kBobKey)).status, 401u) << "the old key is gone";
  EXPECT_EQ(call(*cli, pb::GET, "/auth/whoami", {}, key(fresh.c_str())).body, "User: bob\nLabels: staff\n");
  EXPECT_EQ(call(*cli, pb::CALL, "/auth/key/rotate", {{"user", "alice"}}, key(fresh.c_str())).status, 403u);
}

TEST_F(RouterIdentityTest, EventsDeclareEmitSubscribeAndAcl) {
  auto em = attach("em");
  pb::Envelope hello;
  auto* h = hello.mutable_hello();
  h->set_module("em");
  h->set_generation(1);
  h->add_events()->set_path("/events/em/open");
  auto* secret = h->add_events();
  secret->set_path("/events/em/secret");
  secret->add_labels("admin");
  h->add_events()->set_path("/events/other/spoof");  // not under its own name: refused
  em->send(hello);
  pb::Control c;
  while (control(c) && !c.has_worker_ready()) {
  }
  auto sub = ready("sub", {});
  Reply r = call(*sub, pb::SUB, "/events/em/*", {{"subscription", "1"}}, key(kBobKey));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.body, "Subscribed\n");
  r = call(*sub, pb::SUB, "/events/em/secret", {{"subscription", "2"}}, key(kBobKey));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.body, "Subscribe denied\n");
  r = call(*sub, pb::SUB, "/events/em/nothing", {{"subscription", "3"}}, key(kBobKey));
  EXPECT_EQ(r.status, 404u);
  r = call(*sub, pb::SUB, "/events/em/secret", {{"subscription", "4"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(call(*sub, pb::SUB, "/events/em/open").status, 400u) << "a subscription id is required";

  r = call(*em, pb::EVENT, "/events/em/open", {}, {}, "body-1");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.headers["delivered"], "1");
  r = call(*em, pb::EVENT, "/events/em/secret", {}, {}, "body-2");
  EXPECT_EQ(r.headers["delivered"], "1") << "only alice's subscription; bob's wildcard is filtered";
  EXPECT_EQ(call(*em, pb::EVENT, "/events/auth/login").status, 403u) << "a module emits only its own events";
  std::vector<std::pair<std::uint64_t, std::string>> got;
  for (auto& env : aside_)
    if (env.has_event()) got.emplace_back(env.event().subscription(), env.event().body());
  while (auto env = sub->next(300ms))
    if (env->has_event()) got.emplace_back(env->event().subscription(), env->event().body());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_pair(std::uint64_t{1}, std::string("body-1")));
  EXPECT_EQ(got[1], std::make_pair(std::uint64_t{4}, std::string("body-2")));

  r = call(*sub, pb::GET, "/events");
  EXPECT_NE(r.body.find("/events/em/open"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("/events/em/secret"), std::string::npos) << "row filter hides labelled events";
  EXPECT_EQ(r.body.find("/events/other/spoof"), std::string::npos);
  r = call(*sub, pb::UNSUB, "/events/em/*", {{"subscription", "1"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(call(*sub, pb::UNSUB, "/events/em/*", {{"subscription", "1"}}).status, 404u);
}

TEST_F(RouterIdentityTest, SlowSubscriberLosesOldestEventsAndStallsNobody) {
  auto em = ready("em", {});
  auto other = ready("other", {"/other/x"});
  auto cli = ready("cli", {});
  auto slow = ready("slow", {});
  pb::Envelope sub;
  sub.mutable_subscribe()->set_id(1);
  sub.mutable_subscribe()->set_subscription(9);
  sub.mutable_subscribe()->set_pattern("*");
  slow->send(sub);
  auto ok = slow->next();
  ASSERT_TRUE(ok && ok->has_response());
  // `slow` reads nothing now: its 64 KiB ring fills, then its bounded queue drops.
  std::string body(1024, 'e');
  for (int i = 0; i < 3000; ++i) {
    pb::Envelope env;
    auto* req = env.mutable_request();
    req->set_id(static_cast<std::uint64_t>(i + 1));
    req->set_path("/events/em/tick");
    req->set_method(pb::EVENT);
    req->set_body(body);
    em->send(env);
    while (em->endpoint().queued() > 0) {  // the emitter's own ring is full: let the router read
      while (em->next(1ms)) {
      }
      em->endpoint().flush();
      em->endpoint().notify();
    }
  }
  std::size_t answered = 0;
  while (auto env = em->next(200ms))
    if (env->has_response()) ++answered;
  EXPECT_GT(answered, 0u);
  // Everyone else is served while the subscriber sleeps.
  std::thread server([&] { serve(*other); });
  EXPECT_EQ(call(*cli, pb::GET, "/other/x").status, 200u);
  server.join();
  std::uint64_t seen = 0, dropped = 0;
  while (auto env = slow->next(500ms)) {
    if (!env->has_event()) continue;
    ++seen;
    dropped += env->event().dropped();
  }
  EXPECT_GT(seen, 0u);
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(seen + dropped, 3000u) << "every event is either delivered or counted as dropped";
}

TEST_F(RouterIdentityTest, TracesAreForAdminsAndShowRequestsAndResponses) {
  auto mod = ready("mod", {"/mod/x"});
  auto tracer = ready("tracer", {});
  Reply r = call(*tracer, pb::SUB, "/core/trace", {{"subscription", "5"}, {"filter", "/mod"}}, key(kBobKey));
  EXPECT_EQ(r.status, 403u);
  r = call(*tracer, pb::SUB, "/core/trace", {{"subscription", "5"}, {"filter", "/mod"}}, key(kAliceKey));
  EXPECT_EQ(r.status, 200u);
  auto cli = ready("cli", {});
  std::thread server([&] { serve(*mod); });
  call(*cli, pb::GET, "/mod/x", {}, key(kBobKey));
  server.join();
  std::vector<std::string> lines;
  while (auto env = tracer->next(300ms))
    if (env->has_event()) lines.push_back(env->event().body());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("[GET] cli \xe2\x86\x92 /mod/x (user:bob)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("[200] /mod/x (3 bytes)"), std::string::npos) << lines[1];
}

TEST_F(RouterIdentityTest, OnlyACapableModuleAssertsAnIdentity) {
  auto mod = ready("mod", {"/mod/x"});
  auto node = ready("node", {});
  auto plain = ready("plain", {});
  for (FakeWorker* w : {node.get(), plain.get()}) {
    pb::Envelope env;
    auto* req = env.mutable_request();
    req->set_id(1);
    req->set_path("/mod/x");
    req->mutable_ctx()->mutable_asserted()->set_user("alice");
    w->send(env);
    auto got = mod->next();
    ASSERT_TRUE(got && got->has_request());
    if (w == node.get()) {
      EXPECT_EQ(got->request().ctx().auth().user(), "alice");
      EXPECT_EQ(got->request().ctx().auth().asserted_by(), "node");
    } else {
      EXPECT_EQ(got->request().ctx().auth().user(), "");
    }
    mod->respond(got->request().id(), 200, "");
    ASSERT_TRUE(w->next());
  }
}

// A socket interface reports its client's UNIX user; only its own peer_users map turns that
// into a Portal user, and explicit credentials win over it.
TEST_F(RouterIdentityTest, PeerUidMapsThroughTheInterfacesOwnSetting) {
  auto shell = ready("shell", {});
  auto other = ready("other", {});
  pb::Credentials uid1000;
  uid1000.set_peer_uid(1000);
  EXPECT_EQ(call(*shell, pb::GET, "/auth/whoami", {}, uid1000).body, "User: bob\nLabels: staff\n");
  pb::Credentials uid5;
  uid5.set_peer_uid(5);
  EXPECT_EQ(call(*shell, pb::GET, "/auth/whoami", {}, uid5).body, "anonymous (not logged in)\n");
  EXPECT_EQ(call(*other, pb::GET, "/auth/whoami", {}, uid1000).body, "anonymous (not logged in)\n")
      << "another module's map does not apply";
  pb::Credentials both = key(kAliceKey);
  both.set_peer_uid(0);
  EXPECT_EQ(call(*shell, pb::GET, "/auth/whoami", {}, both).body, "User: alice\nLabels: admin\n");
}

TEST_F(RouterIdentityTest, RuntimeConfigIsPersistedPushedAndSecretsMasked) {
  auto mod = ready("mod", {});
  auto cli = ready("cli", {});
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/get", {{"module", "mod"}, {"key", "greeting"}}).body, "hello");
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/get", {{"module", "mod"}, {"key", "db_password"}}).status, 403u);
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/get", {{"module", "mod"}, {"key", "db_password"}}, key(kAliceKey)).body,
            "s3cret");
  Reply r = call(*cli, pb::GET, "/core/config/list", {{"module", "mod"}});
  EXPECT_NE(r.body.find("mod_mod.db_password"), std::string::npos);
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos) << r.body;
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/set", {{"module", "mod"}, {"key", "greeting"}, {"value", "hi"}}).status,
            403u);
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/set", {{"module", "mod"}, {"key", "library"}, {"value", "/tmp/x.so"}},
                 key(kRootKey))
                .status,
            403u);
  r = call(*cli, pb::CALL, "/core/config/set", {{"module", "mod"}, {"key", "greeting"}, {"value", "hi there"}},
           key(kAliceKey));
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "Set mod.greeting = hi there\n");
  auto got = mod->next();
  ASSERT_TRUE(got && got->has_config());
  EXPECT_TRUE(got->config().merge());
  EXPECT_EQ(got->config().values().at("greeting"), "hi there");
  EXPECT_NE(read_file(dir_ + "/settings/mod_mod.conf").find("greeting = hi there"), std::string::npos);
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/get", {{"module", "mod"}, {"key", "greeting"}}).body, "hi there");
  EXPECT_EQ(call(*cli, pb::CALL, "/core/config/get", {{"module", "mod"}}).status, 400u);
}

TEST_F(RouterIdentityTest, LocksHaveOwners) {
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::CALL, "/core/locks/lock", {{"resource", "db"}, {"owner", "a"}});
  EXPECT_EQ(r.body, "Locked: db (owner: a)\n");
  r = call(*cli, pb::CALL, "/core/locks/lock", {{"resource", "db"}, {"owner", "b"}});
  EXPECT_EQ(r.status, 409u);
  EXPECT_EQ(r.body, "Already locked by: a\n");
  r = call(*cli, pb::CALL, "/core/locks/unlock", {{"resource", "db"}, {"owner", "b"}});
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(call(*cli, pb::CALL, "/core/locks/keepalive", {{"resource", "db"}, {"owner", "a"}}).status, 200u);
  r = call(*cli, pb::GET, "/core/locks");
  EXPECT_EQ(r.body.rfind("Resource locks:\n  db", 0), 0u) << r.body;
  EXPECT_EQ(call(*cli, pb::CALL, "/core/locks/unlock", {{"resource", "db"}, {"owner", "a"}}).body, "Unlocked: db\n");
  EXPECT_EQ(call(*cli, pb::CALL, "/core/locks/lock", {{"resource", "db"}}).status, 400u);
}

TEST_F(RouterIdentityTest, StorageAndResolve) {
  auto mod = ready("mod", {"/mod/a/b"});
  auto cli = ready("cli", {});
  Reply r = call(*cli, pb::GET, "/core/storage");
  EXPECT_EQ(r.body, "Storage backends:\n  file: active (" + dir_ + ")\n  (no database backends)\n");
  r = call(*cli, pb::GET, "/core/storage/file/resources/status");
  EXPECT_EQ(r.body.rfind("File Storage\n", 0), 0u);
  EXPECT_EQ(call(*cli, pb::GET, "/core/storage/nope/resources/status").status, 404u);
  r = call(*cli, pb::GET, "/core/resolve", {{"cwd", "/mod"}, {"target", "a"}});
  EXPECT_EQ(r.body, "/mod/a");
  EXPECT_EQ(call(*cli, pb::GET, "/core/resolve", {{"cwd", "/mod/a"}, {"target", ".."}}).body, "/mod");
  EXPECT_EQ(call(*cli, pb::GET, "/core/resolve", {{"cwd", "/"}, {"target", "/nope"}}).status, 404u);
}

// A storage-provider module (docs/PROTOCOL.md 10): imported at attach, then every write.
class RouterProviderTest : public RouterIdentityTest {
 protected:
  void configure(pb::Configure& c) override {
    RouterIdentityTest::configure(c);
    (*c.mutable_values())["mod_db.storage_provider"] = "fake";
  }
};

TEST_F(RouterProviderTest, ProviderIsReadAtAttachAndGetsEveryWrite) {
  auto db = attach("db");
  pb::Envelope hello;
  auto* h = hello.mutable_hello();
  h->set_module("db");
  h->set_generation(1);
  auto* spec = h->add_paths();
  spec->set_path("/db/storage/*");
  spec->add_labels("sys.storage");
  db->send(hello);
  std::map<std::string, std::string> saved;  // user -> groups the provider was sent
  std::atomic<bool> stop{false};
  std::thread provider([&] {
    while (!stop) {
      auto env = db->next(100ms);
      if (!env || !env->has_request()) continue;
      const pb::Message& m = env->request();
      auto hdr = [&](const char* k) {
        for (const auto& x : m.headers())
          if (x.key() == k) return x.value();
        return std::string();
      };
      pb::Envelope out;
      auto* r = out.mutable_response();
      r->set_id(m.id());
      r->set_status(200);
      EXPECT_EQ(m.ctx().auth().user(), "__system__");
      if (m.path() == "/db/storage/users" && m.method() == pb::GET) {
        auto* n = r->add_headers();
        n->set_key("name");
        n->set_value("remote");
      } else if (m.path() == "/db/storage/user" && m.method() == pb::GET) {
        if (hdr("name") != "remote") r->set_status(404);
        for (auto [k, v] : {std::pair{"password_hash", ""}, {"api_key", kRemoteKey}, {"groups", "ops"}}) {
          auto* x = r->add_headers();
          x->set_key(k);
          x->set_value(v);
        }
      } else if (m.path() == "/db/storage/user" && m.method() == pb::SET) {
        saved[hdr("name")] = hdr("groups");
      }
      db->send(out);
    }
  });
  auto cli = ready("cli", {});
  bool imported = false;
  for (int i = 0; i < 200 && !imported; ++i) {
    imported = call(*cli, pb::GET, "/users/remote").status == 200;
    if (!imported) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(imported) << "the provider's user was read at attach";
  EXPECT_EQ(call(*cli, pb::GET, "/auth/whoami", {}, key(kRemoteKey)).body, "User: remote\nLabels: ops\n");
  EXPECT_TRUE(fs::exists(dir_ + "/users/remote.conf")) << "and kept in the file store";
  Reply r = call(*cli, pb::SET, "/users/newbie", {{"groups", "staff"}}, key(kRootKey));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(call(*cli, pb::GET, "/core/storage").body,
            "Storage backends:\n  file: active (" + dir_ + ")\n  fake: active\n");
  EXPECT_EQ(call(*cli, pb::GET, "/db/storage/users").status, 403) << "the provider's paths are the router's";
  stop = true;
  provider.join();
  EXPECT_EQ(saved.count("root"), 1u) << "the file store's users were pushed";
  EXPECT_EQ(saved["newbie"], "staff") << "and every later write";
}

// A store file edited into garbage: a clear error naming it, the others still load.
class RouterGarbageStoreTest : public RouterIdentityTest {
 protected:
  void prepare() override {
    std::ofstream f(dir_ + "/users/broken.conf");
    f << "password = x\n\x01\x02 garbage without equals\n[[[\n";
  }
};

TEST_F(RouterGarbageStoreTest, OtherUsersStillLoad) {
  auto cli = ready("cli", {});
  EXPECT_EQ(call(*cli, pb::GET, "/auth/whoami", {}, key(kAliceKey)).body, "User: alice\nLabels: admin\n");
  EXPECT_EQ(call(*cli, pb::GET, "/users/broken").status, 404u);
}

}  // namespace
}  // namespace portal::router

// The router in one process: the test plays portald (control socket) and the workers
// (channels it creates), so every routing rule is checked on the real Router and loop.
#include "router_fixture.h"

namespace portal::router {
namespace {

using namespace std::chrono_literals;
using testing::FakeWorker;
using testing::RouterTest;


TEST_F(RouterTest, RoutesRequestAndResponseWithTraceAndNoForgedIdentity) {
  auto mod = ready("mod", {"/mod/echo"});
  auto cli = ready("cli", {});
  pb::Envelope forged;
  auto* req = forged.mutable_request();
  req->set_id(77);
  req->set_path("/mod/echo");
  req->mutable_ctx()->mutable_auth()->set_user("root");
  req->mutable_ctx()->set_source_module("someone-else");
  cli->send(forged);
  auto got = mod->next();
  ASSERT_TRUE(got && got->has_request());
  EXPECT_EQ(got->request().ctx().auth().user(), "");  // a worker never sets identity
  EXPECT_EQ(got->request().ctx().source_module(), "cli");
  EXPECT_NE(got->request().ctx().trace().trace_id(), 0u);
  EXPECT_EQ(got->request().ctx().trace().hops(), 1u);
  mod->respond(got->request().id(), 200, "pong");
  auto resp = cli->next();
  ASSERT_TRUE(resp && resp->has_response());
  EXPECT_EQ(resp->response().id(), 77u);
  EXPECT_EQ(resp->response().body(), "pong");
}

TEST_F(RouterTest, WildcardFallbackAndNotFound) {
  auto mod = ready("mod", {"/files/*"});
  auto cli = ready("cli", {});
  cli->request(1, "/files/a/b/c");
  auto got = mod->next();
  ASSERT_TRUE(got && got->has_request());
  EXPECT_EQ(got->request().path(), "/files/a/b/c");
  cli->request(2, "/nothing");
  auto resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 404u);
  EXPECT_EQ(resp->response().body(), "");
}

TEST_F(RouterTest, RegistrationMayOvertakeHello) {
  auto mod = attach("mod");
  pb::Envelope reg;
  reg.mutable_register_path()->mutable_spec()->set_path("/mod/late");
  mod->send(reg);
  mod->hello({"/mod/early"});
  pb::Control c;
  while (control(c) && !c.has_worker_ready()) {
  }
  auto cli = ready("cli", {});
  for (const char* p : {"/mod/late", "/mod/early"}) {
    cli->request(1, p);
    auto got = mod->next();
    ASSERT_TRUE(got && got->has_request()) << p;
  }
}

TEST_F(RouterTest, ModulesCannotTakeTheCoresNamespaces) {
  auto mod = ready("mod", {"/auth/login", "/core/status", "/users/*", "/core/x", "/events", "/mod/ok"});
  auto cli = ready("cli", {});
  for (const char* p : {"/users/bob", "/core/x"}) {
    cli->request(1, p);
    auto resp = cli->next();
    ASSERT_TRUE(resp && resp->has_response()) << p;
    EXPECT_EQ(resp->response().status(), 404u) << p;
  }
  cli->request(1, "/auth/login");  // the core's own answer, not the module's
  auto login = cli->next();
  ASSERT_TRUE(login && login->has_response());
  EXPECT_EQ(login->response().body(), "Provide username+password or api_key\n");
  cli->request(2, "/core/status");
  auto resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().body().rfind("Portal v", 0), 0u);
  EXPECT_FALSE(mod->next(100ms).has_value());  // nothing was routed to the module
}

TEST_F(RouterTest, WorkerDeathFailsInFlightAndPathsAnswer503UntilHello) {
  auto mod = ready("mod", {"/mod/x"});
  auto cli = ready("cli", {});
  cli->request(5, "/mod/x");
  ASSERT_TRUE(mod->next());
  pb::Control gone;
  gone.mutable_worker_gone()->set_module("mod");
  gone.mutable_worker_gone()->set_generation(1);
  gone.mutable_worker_gone()->mutable_status()->set_name("mod");
  gone.mutable_worker_gone()->mutable_status()->set_state("restarting");
  ASSERT_TRUE(ipc::send_control(sup_.get(), gone));
  auto resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().id(), 5u);
  EXPECT_EQ(resp->response().status(), 503u);
  cli->request(6, "/mod/x");
  resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 503u);  // known path, module restarting
  auto mod2 = ready("mod", {"/mod/x"}, 2);
  cli->request(7, "/mod/x");
  auto got = mod2->next();
  ASSERT_TRUE(got && got->has_request());
  // The old incarnation cannot answer for the new one.
  mod->respond(got->request().id(), 200, "stale");
  mod2->respond(got->request().id(), 200, "fresh");
  resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().body(), "fresh");
}

TEST_F(RouterTest, DeadlinePassedIs504) {
  auto mod = ready("mod", {"/mod/slow"}, 1, 100);
  auto cli = ready("cli", {});
  auto t0 = std::chrono::steady_clock::now();
  cli->request(9, "/mod/slow");
  auto resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 504u);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  // A late answer goes nowhere.
  auto got = mod->next();
  ASSERT_TRUE(got);
  mod->respond(got->request().id(), 200, "late");
  EXPECT_FALSE(cli->next(200ms).has_value());
}

TEST_F(RouterTest, AnotherModulesResponseIsIgnored) {
  auto mod = ready("mod", {"/mod/x"});
  auto evil = ready("evil", {});
  auto cli = ready("cli", {});
  cli->request(1, "/mod/x");
  auto got = mod->next();
  ASSERT_TRUE(got);
  evil->respond(got->request().id(), 200, "forged");
  EXPECT_FALSE(cli->next(200ms).has_value());
  mod->respond(got->request().id(), 200, "real");
  auto resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().body(), "real");
}

TEST_F(RouterTest, CorruptRecordAsksPortaldToKillThatWorkerOnly) {
  auto mod = ready("mod", {"/mod/x"});
  ipc::RingProducer& prod = mod->endpoint().channel().producer();
  std::byte garbage[32]{};
  std::memset(garbage, 0xff, sizeof garbage);
  ASSERT_TRUE(prod.try_write(ipc::RecordKind::data, 0, 0, garbage));  // not an envelope
  // A valid record behind it rings the router's doorbell the normal way.
  mod->hello({"/mod/x"});
  pb::Control c;
  bool killed = false;
  while (!killed && control(c))
    killed = c.has_kill_worker() && c.kill_worker().module() == "mod" && c.kill_worker().generation() == 1;
  EXPECT_TRUE(killed);
  auto cli = ready("cli", {});
  cli->request(1, "/core/status");
  auto resp = cli->next();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 200u);
}

TEST_F(RouterTest, FullQueueAnswers503Promptly) {
  auto mod = ready("mod", {"/mod/x"}, 1, 5000, 4096, 2);  // a worker that reads nothing
  auto cli = ready("cli", {});
  for (std::uint64_t i = 1; i <= 200; ++i) cli->request(i, "/mod/x");
  int busy = 0;
  while (auto r = cli->next(300ms))
    if (r->response().status() == 503) ++busy;
  EXPECT_GT(busy, 100);
}

}  // namespace
}  // namespace portal::router

// The router in one process: the test plays portald (control socket) and the workers
// (channels it creates), so every routing rule is checked on the real Router and loop.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <thread>

#include "ipc/control.h"
#include "ipc/endpoint.h"
#include "router/router.h"

namespace portal::router {
namespace {

using namespace std::chrono_literals;

// The worker side of one channel.
class FakeWorker {
 public:
  FakeWorker(std::string name, std::unique_ptr<ipc::RingEndpoint> ep) : name_(std::move(name)), ep_(std::move(ep)) {}

  void send(const pb::Envelope& env) {
    std::string s;
    env.SerializeToString(&s);
    ep_->send(std::move(s));
    ep_->flush();
    ep_->notify();
  }
  // The next envelope that is not an attach, or nothing within `timeout`.
  std::optional<pb::Envelope> next(std::chrono::milliseconds timeout = 2000ms) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::span<const std::byte> rec;
      if (ep_->receive(rec, nullptr) == ipc::ReadStatus::record) {
        pb::Envelope env;
        env.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
        ep_->release();
        if (env.has_attach()) continue;
        return env;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (ep_->prepare_sleep()) {
        pollfd p{ep_->wait_fd(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
        ep_->woke();
      }
    }
  }
  void hello(std::vector<std::string> paths, std::uint64_t generation = 1) {
    pb::Envelope env;
    auto* h = env.mutable_hello();
    h->set_module(name_);
    h->set_version("1.0.0");
    h->set_generation(generation);
    for (auto& p : paths) h->add_paths()->set_path(p);
    send(env);
  }
  void request(std::uint64_t id, const std::string& path, std::uint32_t timeout_ms = 0) {
    pb::Envelope env;
    env.mutable_request()->set_id(id);
    env.mutable_request()->set_path(path);
    env.mutable_request()->set_timeout_ms(timeout_ms);
    send(env);
  }
  void respond(std::uint64_t id, std::uint32_t status, const std::string& body) {
    pb::Envelope env;
    env.mutable_response()->set_id(id);
    env.mutable_response()->set_status(status);
    env.mutable_response()->set_body(body);
    send(env);
  }
  ipc::RingEndpoint& endpoint() { return *ep_; }

 private:
  std::string name_;
  std::unique_ptr<ipc::RingEndpoint> ep_;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sp[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp), 0);
    sup_.reset(sp[0]);
    router_fd_.reset(sp[1]);
    router_ = std::make_unique<Router>(loop_, router_fd_.get());
    router_->start();
    thread_ = std::thread([this] { loop_.run(); });
    pb::Control c;
    c.mutable_configure()->set_instance("t");
    ASSERT_TRUE(ipc::send_control(sup_.get(), c));
    ASSERT_TRUE(control(c));
    ASSERT_TRUE(c.has_router_ready());
  }
  void TearDown() override {
    loop_.post([this] { loop_.stop(); });
    thread_.join();
    router_.reset();
  }
  // Next control message from the router.
  bool control(pb::Control& out, int timeout_ms = 2000) {
    pollfd p{sup_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    std::vector<ipc::UniqueFd> fds;
    return ipc::recv_control(sup_.get(), out, fds, nullptr) == ipc::ControlRead::message;
  }
  std::unique_ptr<FakeWorker> attach(const std::string& name, std::uint64_t gen = 1, std::uint32_t ring = 1 << 16,
                                     std::uint32_t timeout_ms = 5000, std::uint32_t queue_limit = 1024) {
    auto fds = ipc::create_channel(name.c_str(), ring, gen);
    EXPECT_TRUE(fds);
    pb::Control c;
    auto* a = c.mutable_attach_worker();
    a->mutable_status()->set_name(name);
    a->mutable_status()->set_generation(gen);
    a->mutable_status()->set_state("starting");
    a->set_transport("ring");
    a->set_timeout_ms(timeout_ms);
    a->set_queue_limit(queue_limit);
    EXPECT_TRUE(ipc::send_control(sup_.get(), c, {fds->memfd.get(), fds->router_bell.get(), fds->worker_bell.get()}));
    auto ch = ipc::Channel::map(fds->memfd.get(), ipc::Side::worker, gen);
    EXPECT_TRUE(ch);
    return std::make_unique<FakeWorker>(
        name, std::make_unique<ipc::RingEndpoint>(std::move(*ch), std::move(fds->worker_bell), std::move(fds->router_bell)));
  }
  // Attaches and says hello; waits for worker_ready.
  std::unique_ptr<FakeWorker> ready(const std::string& name, std::vector<std::string> paths, std::uint64_t gen = 1,
                                    std::uint32_t timeout_ms = 5000, std::uint32_t ring = 1 << 16,
                                    std::uint32_t queue_limit = 1024) {
    auto w = attach(name, gen, ring, timeout_ms, queue_limit);
    w->hello(std::move(paths), gen);
    pb::Control c;
    while (control(c))
      if (c.has_worker_ready() && c.worker_ready().module() == name) return w;
    ADD_FAILURE() << name << " never became ready";
    return w;
  }

  EventLoop loop_;
  ipc::UniqueFd sup_, router_fd_;
  std::unique_ptr<Router> router_;
  std::thread thread_;
};

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
  for (const char* p : {"/auth/login", "/users/bob", "/core/x"}) {
    cli->request(1, p);
    auto resp = cli->next();
    ASSERT_TRUE(resp && resp->has_response()) << p;
    EXPECT_EQ(resp->response().status(), 404u) << p;
  }
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

// A real portal-worker process against a channel made here, the test playing the router.
#include <gtest/gtest.h>

#include "portal/result.h"
#include "worker_harness.h"

namespace portal::test {
namespace {

using namespace std::chrono_literals;

pb::Envelope expect_hello(WorkerProcess& w, const std::string& module) {
  auto env = w.receive();
  EXPECT_TRUE(env && env->has_hello()) << "no hello from " << module;
  if (!env) return {};
  EXPECT_EQ(env->hello().module(), module);
  EXPECT_EQ(env->hello().pid(), w.pid());
  return *env;
}

int exit_code(const std::optional<int>& st) {
  if (!st) return -1;
  return WIFEXITED(*st) ? WEXITSTATUS(*st) : 1000 + WTERMSIG(*st);
}

// Runs portal-worker with `args`; returns its exit code and stdout.
std::pair<int, std::string> run_worker(const std::string& args) {
  std::string cmd = worker_binary() + " " + args + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(WorkerCommandLine, VersionHelpAndUsageErrors) {
  EXPECT_EQ(run_worker("--version"), std::make_pair(0, std::string("portal-worker (Portal) 2.0.0\n")));
  auto [rc, help] = run_worker("--help");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(help.find("--bootstrap-fd"), std::string::npos);
  EXPECT_EQ(run_worker("").first, 2);
  EXPECT_EQ(run_worker("--bootstrap-fd x").first, 2);
  EXPECT_EQ(run_worker("--frobnicate").first, 2);
  // fd 0 is not a bootstrap memfd
  EXPECT_EQ(run_worker("--bootstrap-fd 0 </dev/null").first, 1);
}

TEST(Worker, ServesHelloOverTheRingAndStopsOnSigterm) {
  WorkerProcess w({.module = "hello"});
  pb::Envelope hello = expect_hello(w, "hello");
  EXPECT_EQ(hello.hello().generation(), 3u);
  EXPECT_EQ(hello.hello().version(), "1.0.0");
  EXPECT_EQ(hello.hello().paths_size(), 2);

  w.send(request(42, "/hello/resources/greeting"));
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 42); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 200u);
  EXPECT_EQ(resp->response().body(), "Hello from Portal!\n");

  w.send(request(43, "/hello/nothing"));
  resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 43); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 404u);

  w.signal(SIGTERM);
  int unregistered = 0;
  while (unregistered < 2) {
    auto env = w.receive(5s);
    ASSERT_TRUE(env) << "stop() must unregister every path";
    if (env->has_unregister_path()) ++unregistered;
  }
  EXPECT_EQ(exit_code(w.wait_exit()), 0);
}

TEST(Worker, ServesOverAUnixSocket) {
  WorkerProcess w({.module = "hello", .transport = "uds"});
  expect_hello(w, "hello");
  w.send(request(7, "/hello/resources/greeting"));
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 7); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().body(), "Hello from Portal!\n");
  w.signal(SIGINT);
  EXPECT_EQ(exit_code(w.wait_exit()), 0);
}

TEST(Worker, FatalConfigExits78) {
  WorkerProcess w({.module = "crashy", .config = {{"fail_load", "fatal"}}});
  EXPECT_EQ(exit_code(w.wait_exit()), kExitFatalConfig);
}

TEST(Worker, OtherLoadErrorsExit1) {
  WorkerProcess w({.module = "crashy", .config = {{"fail_load", "error"}}});
  EXPECT_EQ(exit_code(w.wait_exit()), 1);
  WorkerProcess missing({.module = "hello", .library = "/nonexistent/mod_hello.so"});
  EXPECT_EQ(exit_code(missing.wait_exit()), 1);
}

TEST(Worker, LibraryOfAnotherModuleIsAFatalConfigError) {
  WorkerProcess w({.module = "myapp", .library = module_library("hello")});
  EXPECT_EQ(exit_code(w.wait_exit()), kExitFatalConfig);
}

TEST(Worker, AttachGetsAFreshHello) {
  WorkerProcess w({.module = "myapp"});
  expect_hello(w, "myapp");
  pb::Envelope attach;
  attach.mutable_attach()->set_router_epoch(9);
  w.send(attach);
  auto hello = w.receive_until([](const pb::Envelope& e) { return e.has_hello(); });
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->hello().paths_size(), 5);
}

TEST(Worker, ConfigUpdateReachesTheModule) {
  WorkerProcess w({.module = "myapp", .config = {{"message", "first"}}});
  expect_hello(w, "myapp");
  pb::Envelope cfg;
  (*cfg.mutable_config()->mutable_values())["message"] = "second";
  w.send(cfg);
  w.send(request(1, "/myapp/resources/message"));
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 1); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().body(), "second\n");
}

TEST(Worker, DrainExits0EvenWithAHandlerHanging) {
  WorkerProcess w({.module = "crashy", .threads = 2});
  expect_hello(w, "crashy");
  w.send(request(1, "/crashy/functions/hang"));
  std::this_thread::sleep_for(20ms);
  pb::Envelope drain;
  drain.mutable_drain()->set_deadline_ms(200);
  auto t0 = std::chrono::steady_clock::now();
  w.send(drain);
  EXPECT_EQ(exit_code(w.wait_exit()), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(Worker, CorruptEnvelopeExits70) {
  WorkerProcess w({.module = "hello"});
  expect_hello(w, "hello");
  w.endpoint().send(std::string("\xff\xff\xff\xff\x0f", 5));
  w.endpoint().notify();
  EXPECT_EQ(exit_code(w.wait_exit()), 70);
}

TEST(Worker, SegfaultKillsOnlyTheWorker) {
  WorkerProcess w({.module = "crashy"});
  expect_hello(w, "crashy");
  w.send(request(1, "/crashy/functions/segfault"));
  EXPECT_EQ(exit_code(w.wait_exit()), 1000 + SIGSEGV);
}

// One handler thread waiting in send(): the worker must still read its answer, and run
// requests that arrive meanwhile on another thread (not nested in the waiting handler).
TEST(Worker, NestedCallWithOneThreadNeitherDeadlocksNorNests) {
  WorkerProcess w({.module = "crashy", .threads = 1});
  expect_hello(w, "crashy");
  w.send(request(100, "/crashy/functions/call", "ping", {{"path", "/hello/resources/greeting"}}));
  auto out = w.receive_until([](const pb::Envelope& e) { return e.has_request(); });
  ASSERT_TRUE(out);
  const pb::Message& call = out->request();
  EXPECT_EQ(call.path(), "/hello/resources/greeting");
  EXPECT_EQ(call.body(), "ping");
  EXPECT_EQ(call.ctx().source_module(), "crashy");
  EXPECT_EQ(call.ctx().trace().parent_id(), 100u);
  EXPECT_GT(call.timeout_ms(), 0u);

  // While the only handler thread waits, another request is served.
  w.send(request(101, "/crashy/functions/echo", "meanwhile"));
  auto echo = w.receive_until([](const pb::Envelope& e) { return is_response(e, 101); });
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->response().body(), "meanwhile");

  pb::Envelope answer;
  answer.mutable_response()->set_id(call.id());
  answer.mutable_response()->set_status(200);
  answer.mutable_response()->set_body("Hello from Portal!\n");
  w.send(answer);
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 100); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 200u);
  EXPECT_EQ(resp->response().body(), "Hello from Portal!\n");
}

// Many handlers waiting in send() at once: answers reach the right callers, requests that
// arrive meanwhile are run by threads started on demand.
TEST(Worker, ManyConcurrentNestedCalls) {
  WorkerProcess w({.module = "crashy", .threads = 2});
  expect_hello(w, "crashy");
  constexpr int kCalls = 200;
  for (int i = 1; i <= kCalls; ++i)
    w.send(request(i, "/crashy/functions/call", "n" + std::to_string(i), {{"path", "/elsewhere"}}));
  int answered = 0;
  while (answered < kCalls) {
    auto env = w.receive(10s);
    ASSERT_TRUE(env) << "stalled after " << answered << " answers";
    if (env->has_request()) {  // an outgoing call: answer it with its own body
      pb::Envelope answer;
      answer.mutable_response()->set_id(env->request().id());
      answer.mutable_response()->set_status(200);
      answer.mutable_response()->set_body("re:" + env->request().body());
      w.send(answer);
    } else if (env->has_response()) {
      ASSERT_EQ(env->response().status(), 200u);
      ASSERT_EQ(env->response().body(), "re:n" + std::to_string(env->response().id()));
      ++answered;
    }
  }
}

TEST(Worker, OutgoingCallTimesOutWith504) {
  WorkerProcess w({.module = "crashy", .call_timeout_ms = 50});
  expect_hello(w, "crashy");
  w.send(request(1, "/crashy/functions/call", "", {{"path", "/nobody"}}));
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 1); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 504u);
}

TEST(Worker, AttachFailsAPendingCallWith503) {
  WorkerProcess w({.module = "crashy"});
  expect_hello(w, "crashy");
  w.send(request(1, "/crashy/functions/call", "", {{"path", "/elsewhere"}}));
  ASSERT_TRUE(w.receive_until([](const pb::Envelope& e) { return e.has_request(); }));
  pb::Envelope attach;
  attach.mutable_attach()->set_router_epoch(2);
  w.send(attach);
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 1); });
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 503u);
}

// The module's sockets run on the worker's event loop: the module must bind to the worker's
// Boost.Asio statics (portal-worker exports its symbols), else the reactor crashes.
TEST(Worker, ModuleSocketsWorkOnTheEventLoop) {
  WorkerProcess w({.module = "crashy", .threads = 2});
  expect_hello(w, "crashy");
  for (int i = 1; i <= 20; ++i) {
    w.send(request(i, "/crashy/functions/io"));
    auto resp = w.receive_until([i](const pb::Envelope& e) { return is_response(e, i); });
    ASSERT_TRUE(resp) << "no answer to round " << i << " (exit " << exit_code(w.wait_exit(100ms)) << ")";
    ASSERT_EQ(resp->response().body(), "io ok\n");
  }
}

TEST(Worker, Echoes64MiBThroughASmallRing) {
  WorkerProcess w({.module = "crashy", .ring_bytes = 1u << 20});
  expect_hello(w, "crashy");
  std::string body(64u << 20, '\0');
  for (std::size_t i = 0; i < body.size(); i += 4093) body[i] = static_cast<char>(i * 31);
  w.send(request(5, "/crashy/functions/echo", body));
  auto resp = w.receive_until([](const pb::Envelope& e) { return is_response(e, 5); }, 60s);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->response().status(), 200u);
  EXPECT_TRUE(resp->response().body() == body);
}

// While one thread runs a slow handler, the idle one wakes for the next request.
TEST(Worker, SlowHandlerDoesNotHoldUpTheOtherThread) {
  WorkerProcess w({.module = "crashy", .threads = 2});
  expect_hello(w, "crashy");
  for (int round = 0; round < 3; ++round) {
    std::uint64_t slow = 10 + round * 2, fast = slow + 1;
    w.send(request(slow, "/crashy/functions/hang", "", {{"ms", "300"}}));
    std::this_thread::sleep_for(20ms);  // the slow one is running
    w.send(request(fast, "/crashy/functions/echo", "quick"));
    auto first = w.receive_until([](const pb::Envelope& e) { return e.has_response(); });
    ASSERT_TRUE(first);
    EXPECT_EQ(first->response().id(), fast);  // answered while the slow one still sleeps
    ASSERT_TRUE(w.receive_until([slow](const pb::Envelope& e) { return is_response(e, slow); }));
  }
}

TEST(Worker, ManyPipelinedRequestsOnFourThreads) {
  WorkerProcess w({.module = "crashy", .threads = 4, .ring_bytes = 1u << 16});
  expect_hello(w, "crashy");
  constexpr int kRequests = 5000;
  std::vector<bool> seen(kRequests + 1, false);
  int answered = 0;
  int next = 1;
  while (answered < kRequests) {
    // Keep up to 256 in flight; the ring (64 KiB) fills and drains on both sides.
    while (next <= kRequests && next - answered <= 256) {
      w.send(request(next, "/crashy/functions/echo", "body-" + std::to_string(next)));
      ++next;
    }
    auto env = w.receive(10s);
    ASSERT_TRUE(env) << "stalled after " << answered << " answers";
    if (!env->has_response()) continue;
    std::uint64_t id = env->response().id();
    ASSERT_EQ(env->response().body(), "body-" + std::to_string(id));
    ASSERT_FALSE(seen[id]);
    seen[id] = true;
    ++answered;
  }
}

// Not a pass/fail benchmark: reports what one routed request costs end to end, with the
// worker sleeping between requests (the default) and busy-polling (opt-in).
void measure_round_trip(unsigned threads, std::uint32_t busy_poll_us) {
  WorkerProcess w({.module = "crashy", .threads = threads, .busy_poll_us = busy_poll_us});
  expect_hello(w, "crashy");
  constexpr int kRounds = 20000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= kRounds; ++i) {
    w.send(request(i, "/crashy/functions/echo", "x"));
    auto env = w.receive_until([i](const pb::Envelope& e) { return is_response(e, i); });
    ASSERT_TRUE(env);
  }
  auto per = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kRounds;
  w.signal(SIGTERM);
  struct rusage ru {};
  ASSERT_EQ(exit_code(w.wait_exit(10s, &ru)), 0);
  auto us = [](const timeval& tv) { return tv.tv_sec * 1e6 + tv.tv_usec; };
  double cpu = (us(ru.ru_utime) + us(ru.ru_stime)) / kRounds;
  std::printf("round trip through portal-worker (%u threads, busy_poll_us %u): %.2f us; worker CPU per request %.2f us\n",
              threads, busy_poll_us, per, cpu);
}

TEST(Worker, RoundTripLatency) { measure_round_trip(1, 0); }
TEST(Worker, RoundTripLatencyTwoThreads) { measure_round_trip(2, 0); }
TEST(Worker, RoundTripLatencyBusyPolling) { measure_round_trip(1, 200); }

}  // namespace
}  // namespace portal::test

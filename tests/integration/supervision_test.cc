// Supervision through real processes: crashes, crash loops, fatal configuration, router
// death, in-process crashes, clean shutdown and start-up after kill -9 of the whole tree.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "instance.h"

namespace portal::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST(Supervision, KillNineUnderLoadFailsOnlyInFlightAndComesBack) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"threads", "4"}}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  int old_pid = inst.module_pid("crashy");
  ASSERT_GT(old_pid, 0);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, other{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&] {
      auto c = tools::CtlClient::connect(inst.socket());
      ASSERT_TRUE(c);
      while (!stop) {
        auto r = (*c)->request(Method::call, "/crashy/functions/echo", {}, "ping", {}, 5s);
        ASSERT_TRUE(r) << "a request hung or the connection broke: " << r.error().message;
        if (r->status == 200) ++ok;
        else if (r->status == 503) ++failed;
        else ++other;
      }
    });
  }
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
  ASSERT_TRUE(inst.wait_module("crashy", [&](const nlohmann::json& m) {
    return m.value("ready", false) && m.value("pid", -1) != old_pid;
  })) << inst.log();
  std::this_thread::sleep_for(200ms);
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_GT(ok.load(), 100);
  EXPECT_EQ(other.load(), 0);
  // While the module restarts its paths answer 503; everything else kept working.
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
  nlohmann::json m = inst.module("crashy");
  EXPECT_EQ(m["restarts"], 1);
  EXPECT_NE(m["last_exit"].get<std::string>().find("9"), std::string::npos) << m.dump();
  EXPECT_EQ(inst.call("/crashy/functions/echo", {}, "again")->body, "again");
}

TEST(Supervision, CrashLoopParksTheModuleWhileOthersAnswer) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  for (int i = 0; i < 12; ++i) {
    nlohmann::json m = inst.module("crashy");
    if (m.value("state", "") == "failed") break;
    if (!inst.wait_ready("crashy", 10s)) break;
    auto r = inst.call("/crashy/functions/segfault");
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 200);
  }
  ASSERT_TRUE(inst.wait_module("crashy", [](const nlohmann::json& m) { return m.value("state", "") == "failed"; }))
      << inst.module("crashy").dump() << inst.log();
  auto r = inst.call("/crashy/functions/echo", {}, "x");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
  // It stays parked until an operator starts it again.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(inst.module("crashy")["state"], "failed");
  // The shell's `module status crashy`: GET /core/modules/<name>, readable by anyone.
  r = inst.get("/core/modules/crashy");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("Module: crashy\nVersion: "), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("State: failed\nReady: no\n"), std::string::npos) << r->body;
  EXPECT_EQ(inst.get("/core/modules/nosuch")->status, 404);
  r = inst.admin(Method::call, "/core/modules/crashy", {{"action", "start"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(inst.wait_ready("crashy")) << inst.log();
  EXPECT_EQ(inst.call("/crashy/functions/echo", {}, "back")->body, "back");
}

TEST(Supervision, FatalConfigExitIsNotRespawned) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  int pid = inst.module_pid("crashy");
  auto r = inst.call("/crashy/functions/exit", {{"code", "fatal"}});
  ASSERT_TRUE(r);
  ASSERT_TRUE(inst.wait_module("crashy", [](const nlohmann::json& m) { return m.value("state", "") == "failed"; }));
  std::this_thread::sleep_for(300ms);
  nlohmann::json m = inst.module("crashy");
  EXPECT_EQ(m["state"], "failed");
  EXPECT_EQ(m["restarts"], 0);
  EXPECT_FALSE(process_alive(pid));
}

TEST(Supervision, FatalConfigAtLoadIsReportedAndOthersRun) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"fail_load", "fatal"}}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  EXPECT_EQ(inst.module("crashy")["state"], "failed");
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
}

TEST(Supervision, WorkerThatNeverBecomesReadyIsKilledAndParks) {
  Instance inst(std::vector<ModuleConf>{
      {"crashy", {{"hang_load", "600000"}, {"start_timeout_ms", "300"}, {"crash_limit", "2"}}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  nlohmann::json m = inst.module("crashy");
  EXPECT_EQ(m["state"], "failed") << m.dump();
  EXPECT_NE(m["last_exit"].get<std::string>().find("not ready within 300 ms"), std::string::npos) << m.dump();
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
}

TEST(Supervision, RouterKilledIsRestartedAndWorkersReattach) {
  Instance inst(std::vector<ModuleConf>{{"hello", {}}, {"myapp", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  pid_t router = inst.router_pid();
  ASSERT_GT(router, 0);
  int hello_pid = inst.module_pid("hello");
  ASSERT_EQ(inst.call("/myapp/functions/increment")->status, 200);
  ASSERT_EQ(::kill(router, SIGKILL), 0);
  // Paths answer again through a new router; the workers are the same processes.
  bool back = false;
  for (int i = 0; i < 500 && !back; ++i) {
    inst.reconnect();
    auto r = inst.request(Method::get, "/hello/resources/greeting", {}, {}, 1s);
    back = r && r->status == 200;
    if (!back) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(back) << inst.log();
  EXPECT_NE(inst.router_pid(), router);
  EXPECT_EQ(inst.module_pid("hello"), hello_pid);
  // Module state survived (the worker was not restarted).
  auto r = inst.get("/myapp/resources/counter");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("1"), std::string::npos) << r->body;
}

TEST(Supervision, InprocessSegfaultDisablesTheModuleOnly) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"isolation", "inprocess"}}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  pid_t router = inst.router_pid();
  ASSERT_EQ(inst.call("/crashy/functions/echo", {}, "x")->body, "x");
  auto r = inst.call("/crashy/functions/segfault");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "Module crashed\n");
  EXPECT_EQ(inst.call("/crashy/functions/echo", {}, "x")->status, 503);
  EXPECT_EQ(inst.router_pid(), router);
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
  EXPECT_EQ(inst.get("/core/status")->status, 200);
  // `reload` brings it back.
  r = inst.admin(Method::call, "/core/modules/crashy", {{"action", "reload"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(inst.wait_ready("crashy"));
  EXPECT_EQ(inst.call("/crashy/functions/echo", {}, "again")->body, "again");
}

TEST(Supervision, InprocessModuleCallsOtherModulesWithOneThread) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"isolation", "inprocess"}, {"threads", "1"}}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  auto r = inst.call("/crashy/functions/call", {{"path", "/hello/resources/greeting"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello from Portal!\n");
}

TEST(Supervision, ReloadingAnInprocessModuleWithAStuckHandlerDoesNotHangTheRouter) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"isolation", "inprocess"}, {"threads", "2"}, {"timeout_ms", "500"}}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  pid_t router = inst.router_pid();
  auto r = inst.call("/crashy/functions/hang");  // never returns; the caller gets 504
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  auto t0 = std::chrono::steady_clock::now();
  r = inst.admin(Method::call, "/core/modules/crashy", {{"action", "reload"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_TRUE(inst.wait_ready("crashy"));
  EXPECT_EQ(inst.call("/crashy/functions/echo", {}, "alive")->body, "alive");
  EXPECT_EQ(inst.get("/core/status")->status, 200);
  EXPECT_EQ(inst.router_pid(), router);
}

TEST(Supervision, SigtermStopsEverythingCleanly) {
  Instance inst(std::vector<ModuleConf>{{"hello", {}}, {"crashy", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  std::vector<pid_t> procs{inst.router_pid(), inst.module_pid("hello"), inst.module_pid("crashy")};
  auto st = inst.stop();
  ASSERT_TRUE(st.has_value()) << "portald did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 0);
  for (pid_t p : procs) EXPECT_FALSE(process_alive(p)) << p;
  EXPECT_FALSE(fs::exists(inst.socket()));
}

std::vector<std::string> portal_shm_entries() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator("/dev/shm"))
    if (e.path().filename().string().find("portal") != std::string::npos) out.push_back(e.path().string());
  return out;
}

TEST(Supervision, KillNineOfTheWholeTreeLeavesNothingAndRestarts) {
  auto before = portal_shm_entries();
  Instance inst(std::vector<ModuleConf>{{"hello", {}}, {"myapp", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  std::vector<pid_t> procs{inst.portald_pid(), inst.router_pid(), inst.module_pid("hello")};
  inst.kill_tree();
  for (pid_t p : procs) EXPECT_FALSE(process_alive(p)) << p;
  EXPECT_EQ(portal_shm_entries(), before);
  ASSERT_TRUE(inst.start()) << inst.log();
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
  EXPECT_EQ(portal_shm_entries(), before);
}

}  // namespace
}  // namespace portal::itest

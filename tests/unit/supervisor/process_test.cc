// portald end to end against the fake router and fake worker of this folder: spawn order
// and fd layout, restart policy on real processes, router restart, SIGHUP, operator
// actions, shutdown, sd_notify. The real router and worker are covered by
// tests/integration/.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <gtest/gtest.h>

#include "portald_harness.h"

namespace {

using std::chrono::milliseconds;

unsigned long long mono_now_us() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<unsigned long long>(ts.tv_sec) * 1000000ull + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
}

// The notify socket systemd would own.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/'));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& name() const { return name_; }
  // Everything received so far, datagrams separated by "|".
  const std::string& received() {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;)
      text_ += std::string(buf, static_cast<std::size_t>(n)) + "|";
    return text_;
  }
  bool wait_for(const std::string& what, milliseconds timeout = milliseconds(10000)) {
    return wait_until([&] { return received().find(what) != std::string::npos; }, timeout);
  }

 private:
  std::string name_;
  int fd_ = -1;
  std::string text_;
};

class Process : public ::testing::Test {
 protected:
  void SetUp() override {
    if (build_root().empty()) GTEST_SKIP() << "PORTAL_BUILD_ROOT not set";
  }

  // A config whose modules all have a (dummy) library under mods/.
  std::string write_config(const std::vector<std::string>& modules, const std::string& sections,
                           const std::string& core = "") {
    std::string text = "[core]\ninstance = t\nmodules_dir = mods\ndrain_ms = 2000\n" + core + "[modules]\n";
    for (const auto& m : modules) {
      dir.write("mods/mod_" + m + ".so", "elf");
      text += "load = " + m + "\n";
    }
    return dir.write("portal.conf", text + sections);
  }

  void stop_cleanly(Portald& p) {
    p.signal(SIGTERM);
    auto code = p.wait_exit();
    ASSERT_TRUE(code) << "portald did not exit\n" << p.output();
    EXPECT_EQ(*code, 0) << p.output();
  }

  // The pid of the module's nth incarnation, once that worker logged its start (the fake
  // router may report it running a moment before).
  pid_t worker_pid(const std::string& module, std::size_t nth = 0) {
    std::string key = "worker start module=" + module + " ";
    if (!log.wait_count({key}, nth + 1)) return 0;
    auto l = log.matching({key});
    pid_t pid = std::stoi(l.at(nth).field("pid"));
    return pid > 1 ? pid : 0;
  }
  std::size_t worker_starts(const std::string& module, std::size_t at_least) {
    std::string key = "worker start module=" + module + " ";
    log.wait_count({key}, at_least, milliseconds(5000));
    return log.count({key});
  }

  TempDir dir;
  FakeLog log{dir / "fake.log"};
};

TEST_F(Process, StartsRouterThenWorkersAndStopsCleanly) {
  std::string conf = write_config({"a", "b"}, "[mod_b]\nthreads = 3\ngreeting = hi\n");
  NotifySocket notify(dir / "notify");
  Portald p(dir, conf, {}, {{"NOTIFY_SOCKET", notify.name()}});
  ASSERT_TRUE(log.wait_count({"router status b state=running"}, 1)) << p.output();
  ASSERT_TRUE(worker_pid("a") && worker_pid("b")) << p.output();
  auto lines = log.lines();
  auto index = [&](const std::string& s) {
    return std::find_if(lines.begin(), lines.end(), [&](const LogLine& l) { return l.has(s); }) - lines.begin();
  };
  EXPECT_LT(index("router configure"), index("router attach a "));
  EXPECT_LT(index("router attach a "), index("router attach b "));
  for (const char* m : {"a", "b"}) {
    auto attach = log.matching({std::string("router attach ") + m + " "});
    ASSERT_EQ(attach.size(), 1u);
    EXPECT_TRUE(attach[0].has("state=starting"));
    EXPECT_TRUE(attach[0].has("transport=ring fds=3"));
    EXPECT_TRUE(attach[0].has(" ok")) << attach[0].text;
    EXPECT_EQ(attach[0].field("timeout"), "30000");
    EXPECT_EQ(attach[0].field("queue"), "1024");
  }
  auto wb = log.matching({"worker start module=b "});
  ASSERT_EQ(wb.size(), 1u);
  EXPECT_TRUE(wb[0].has("fds=ok")) << wb[0].text;
  EXPECT_EQ(wb[0].field("threads"), "3");
  EXPECT_EQ(wb[0].field("cfg.greeting"), "hi");
  EXPECT_EQ(wb[0].field("instance"), "t");
  EXPECT_EQ(wb[0].field("level"), "info");
  ASSERT_TRUE(notify.wait_for("READY=1")) << notify.received();
  EXPECT_NE(notify.received().find("2 running"), std::string::npos) << notify.received();

  pid_t router = std::stoi(log.matching({"router configure"})[0].field("pid"));
  pid_t a = worker_pid("a"), b = worker_pid("b");
  ASSERT_TRUE(a && b);
  stop_cleanly(p);
  EXPECT_EQ(log.count({"router shutdown drain=2000"}), 1u);
  EXPECT_EQ(log.count({"worker term module=a"}), 1u);
  EXPECT_EQ(log.count({"worker term module=b"}), 1u);
  EXPECT_TRUE(log.count({"router term"}) + log.count({"router eof"}) >= 1u);
  EXPECT_TRUE(process_gone(router));
  EXPECT_TRUE(process_gone(a));
  EXPECT_TRUE(process_gone(b));
  EXPECT_TRUE(notify.wait_for("STOPPING=1"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "log"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "run"));
}

TEST_F(Process, FirstCrashRestartsAtOnce) {
  std::vector<std::string> mods;
  for (int i = 0; i < 8; ++i) mods.push_back("m" + std::to_string(i));
  Portald p(dir, write_config(mods, ""));
  ASSERT_TRUE(log.wait_count({"router status", "state=running"}, mods.size())) << p.output();
  std::vector<unsigned long long> latencies;
  for (const auto& m : mods) {
    pid_t pid = worker_pid(m);
    ASSERT_TRUE(pid);
    auto t0 = mono_now_us();
    ::kill(pid, SIGKILL);
    ASSERT_TRUE(worker_pid(m, 1)) << p.output();
    ASSERT_TRUE(log.wait_count({"router attach " + m + " "}, 2)) << p.output();
    auto second = log.matching({"worker start module=" + m + " "}).at(1);
    latencies.push_back(second.us - t0);
    auto gone = log.matching({"router gone " + m + " "}).at(0);
    EXPECT_TRUE(gone.has("state=restarting")) << gone.text;
    EXPECT_TRUE(gone.has("last_exit=[signal 9 (Killed)]")) << gone.text;
    EXPECT_TRUE(log.matching({"router attach " + m + " "}).at(1).has("restarts=1"));
  }
  std::sort(latencies.begin(), latencies.end());
  std::string all;
  for (auto l : latencies) all += std::to_string(l) + " ";
  std::printf("crash -> new worker running, us: %s(p50 %llu)\n", all.c_str(), latencies[latencies.size() / 2]);
  EXPECT_LT(latencies[latencies.size() / 2], 100000u) << all;  // target 10 ms; loose for loaded CI hosts
  stop_cleanly(p);
}

TEST_F(Process, CrashLoopBacksOffThenParks) {
  Portald p(dir, write_config({"loop"}, "[mod_loop]\nfake_mode = exit:1\n"));
  ASSERT_TRUE(log.wait_count({"router gone loop ", "state=failed"}, 1, milliseconds(15000))) << p.output();
  auto attach = log.matching({"router attach loop "});
  ASSERT_EQ(attach.size(), 6u);
  // Immediately, then 100, 200, 400, 800 ms later (the exits themselves take a little;
  // the fake router's log stamps may be late on a loaded host, hence the slack).
  std::vector<unsigned long long> want{0, 100, 200, 400, 800};
  for (std::size_t i = 1; i < attach.size(); ++i)
    EXPECT_GE(attach[i].us - attach[i - 1].us + 20000, want[i - 1] * 1000) << "gap " << i;
  EXPECT_GE(attach[5].us - attach[0].us, 1480000u);
  EXPECT_LT(attach[1].us - attach[0].us, 100000u);
  auto failed = log.matching({"router gone loop ", "state=failed"})[0];
  EXPECT_TRUE(failed.has("last_exit=[exit 1; crash loop")) << failed.text;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(log.count({"router attach loop "}), 6u) << "parked modules stay parked";
  stop_cleanly(p);
}

TEST_F(Process, PerModuleRestartLimits) {
  Portald p(dir, write_config({"tight", "forever"},
                              "[mod_tight]\nfake_mode = exit:1\ncrash_limit = 2\nbackoff_initial_ms = 0\n"
                              "[mod_forever]\nfake_mode = exit:1\ncrash_limit = 0\nbackoff_initial_ms = 0\n"));
  // tight: parked after 3 quick exits (crash_limit 2), each restart at once.
  ASSERT_TRUE(log.wait_count({"router gone tight ", "state=failed"}, 1)) << p.output();
  EXPECT_EQ(log.count({"router attach tight "}), 3u);
  auto failed = log.matching({"router gone tight ", "state=failed"})[0];
  EXPECT_TRUE(failed.has("crash loop: 3 exits in 10 s")) << failed.text;
  // forever: never parked, never waited for (crash_limit 0, backoff_initial_ms 0).
  ASSERT_TRUE(log.wait_count({"router attach forever "}, 30, milliseconds(20000))) << p.output();
  EXPECT_EQ(log.count({"router gone forever ", "state=failed"}), 0u);
  stop_cleanly(p);
  EXPECT_EQ(p.output().find("restarting in"), std::string::npos) << p.output();
}

TEST_F(Process, FatalConfigIsNotRespawnedAndStillReady) {
  NotifySocket notify("@portald-test-" + std::to_string(::getpid()));
  Portald p(dir, write_config({"bad", "good"}, "[mod_bad]\nfake_mode = exit:78\n"), {},
            {{"NOTIFY_SOCKET", notify.name()}});
  ASSERT_TRUE(log.wait_count({"router gone bad ", "state=failed"}, 1)) << p.output();
  EXPECT_TRUE(log.matching({"router gone bad "})[0].has("last_exit=[exit 78 (fatal configuration)]"));
  ASSERT_TRUE(notify.wait_for("READY=1")) << notify.received();
  EXPECT_NE(notify.received().find("1 running, 1 failed"), std::string::npos) << notify.received();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(log.count({"router attach bad "}), 1u);
  stop_cleanly(p);
}

TEST_F(Process, RestartModes) {
  Portald p(dir, write_config({"never", "clean", "always"},
                              "[mod_never]\nrestart = never\nfake_mode = exit:3\n"
                              "[mod_clean]\nfake_mode = exit:0\n"
                              "[mod_always]\nrestart = always\nfake_mode = exit:0\n"));
  ASSERT_TRUE(log.wait_count({"router gone never ", "state=failed"}, 1)) << p.output();
  ASSERT_TRUE(log.wait_count({"router gone clean ", "state=stopped"}, 1)) << p.output();
  ASSERT_TRUE(log.wait_count({"router attach always "}, 3)) << p.output();
  EXPECT_EQ(log.count({"router attach never "}), 1u);
  EXPECT_EQ(log.count({"router attach clean "}), 1u);
  EXPECT_TRUE(log.matching({"router gone never "})[0].has("last_exit=[exit 3; restart = never]"));
  stop_cleanly(p);
}

TEST_F(Process, DrainDeadlineEndsInSigkill) {
  Portald p(dir, write_config({"stubborn"}, "[mod_stubborn]\nfake_mode = ignore_term\n", "drain_ms = 300\n"));
  ASSERT_TRUE(log.wait_count({"router status stubborn state=running"}, 1)) << p.output();
  pid_t pid = worker_pid("stubborn");
  ASSERT_TRUE(pid);
  auto t0 = std::chrono::steady_clock::now();
  stop_cleanly(p);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_TRUE(process_gone(pid));
  EXPECT_NE(p.output().find("SIGKILL"), std::string::npos) << p.output();
}

TEST_F(Process, SecondSignalKillsAtOnce) {
  Portald p(dir, write_config({"stubborn"}, "[mod_stubborn]\nfake_mode = ignore_term\n", "drain_ms = 20000\n"));
  ASSERT_TRUE(log.wait_count({"router status stubborn state=running"}, 1)) << p.output();
  pid_t pid = worker_pid("stubborn");
  ASSERT_TRUE(pid);
  p.signal(SIGTERM);
  ASSERT_TRUE(log.wait_count({"router shutdown"}, 1));
  p.signal(SIGINT);
  auto code = p.wait_exit(std::chrono::seconds(3));
  ASSERT_TRUE(code) << p.output();
  EXPECT_EQ(*code, 0);
  EXPECT_TRUE(process_gone(pid));
}

TEST_F(Process, DeadRouterIsRespawnedAndWorkersReattach) {
  Portald p(dir, write_config({"a", "b"}, ""));
  ASSERT_TRUE(log.wait_count({"router status b state=running"}, 1)) << p.output();
  pid_t router = std::stoi(log.matching({"router configure"})[0].field("pid"));
  auto first_a = log.matching({"router attach a "})[0];
  ::kill(router, SIGKILL);
  ASSERT_TRUE(log.wait_count({"router attach b "}, 2)) << p.output();
  auto configures = log.matching({"router configure"});
  ASSERT_EQ(configures.size(), 2u);
  EXPECT_NE(configures[1].field("pid"), configures[0].field("pid"));
  auto again_a = log.matching({"router attach a "})[1];
  EXPECT_EQ(again_a.field("gen"), first_a.field("gen"));
  EXPECT_EQ(again_a.field("pid"), first_a.field("pid"));
  EXPECT_TRUE(again_a.has("state=running"));
  EXPECT_TRUE(again_a.has(" ok")) << "the kept channel fds still map";
  EXPECT_EQ(log.count({"worker start"}), 2u) << "workers untouched";
  EXPECT_EQ(again_a.field("pid"), std::to_string(worker_pid("a")));
  stop_cleanly(p);
}

TEST_F(Process, SighupAppliesTheDifference) {
  std::string conf = write_config({"keep", "change", "drop"}, "[mod_change]\nthreads = 2\n");
  Portald p(dir, conf);
  ASSERT_TRUE(log.wait_count({"router status", "state=running"}, 3)) << p.output();
  for (const char* m : {"keep", "change", "drop"}) ASSERT_TRUE(worker_pid(m));
  write_config({"keep", "change", "add"}, "[mod_change]\nthreads = 4\n");
  p.signal(SIGHUP);
  ASSERT_TRUE(log.wait_count({"router status add state=running"}, 1)) << p.output();
  ASSERT_TRUE(log.wait_count({"router status change state=running"}, 2)) << p.output();
  ASSERT_TRUE(log.wait_count({"router forget drop"}, 1)) << p.output();
  EXPECT_EQ(log.count({"worker term module=drop"}), 1u);
  ASSERT_TRUE(worker_pid("change", 1));
  EXPECT_EQ(log.count({"worker start module=keep "}), 1u);
  EXPECT_EQ(log.matching({"worker start module=change "}).at(1).field("threads"), "4");
  EXPECT_EQ(log.count({"router configure"}), 2u);

  dir.write("portal.conf", "[core]\nthis is not ini\n");
  p.signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return p.output().find("keeping the running configuration") != std::string::npos; }))
      << p.output();
  EXPECT_NE(p.output().find("portal.conf:2"), std::string::npos);
  EXPECT_EQ(log.count({"router configure"}), 2u);
  EXPECT_FALSE(p.wait_exit(milliseconds(50)));
  stop_cleanly(p);
}

TEST_F(Process, OperatorActions) {
  // A worker that fails load() never says hello: no worker_ready for it.
  std::string sections = "[mod_fatal]\nfake_mode = exit:78\n[fake]\nno_ready = fatal\n";
  Portald p(dir, write_config({"a", "fatal"}, sections));
  ASSERT_TRUE(log.wait_count({"router status a state=running"}, 1)) << p.output();
  ASSERT_TRUE(log.wait_count({"router gone fatal ", "state=failed"}, 1)) << p.output();
  std::string actions;
  int id = 0;
  auto act = [&](const std::string& action, const std::string& module) {
    actions += (actions.empty() ? "" : ",") + std::to_string(++id) + ":" + action + ":" + module;
    write_config({"a", "fatal"}, sections + "actions = " + actions + "\n");
    p.signal(SIGHUP);
    std::string key = "router result id=" + std::to_string(id) + " ";
    EXPECT_TRUE(log.wait_count({key}, 1)) << p.output();
    auto r = log.matching({key});
    return r.empty() ? std::string() : r[0].text.substr(r[0].text.find("status="));
  };
  EXPECT_EQ(act("restart", "a"), "status=200 text=[Module 'a': restart OK]");
  EXPECT_EQ(worker_starts("a", 2), 2u);
  EXPECT_EQ(log.count({"router gone a ", "state=restarting"}), 1u);
  EXPECT_EQ(act("stop", "a"), "status=200 text=[Module 'a': stop OK]");
  EXPECT_EQ(log.count({"router gone a ", "state=stopped"}), 1u);
  EXPECT_EQ(act("start", "a"), "status=200 text=[Module 'a': start OK]");
  EXPECT_EQ(worker_starts("a", 3), 3u);
  EXPECT_EQ(act("reload", "a"), "status=200 text=[Module 'a': reload OK]");
  EXPECT_EQ(act("restart", "ghost"), "status=404 text=[Module 'ghost' not found]");
  EXPECT_EQ(act("start", "fatal"), "status=500 text=[Module 'fatal': start failed]");
  EXPECT_EQ(log.count({"router attach fatal "}), 2u);
  EXPECT_EQ(act("stop", "a"), "status=200 text=[Module 'a': stop OK]");
  EXPECT_EQ(act("stop", "a"), "status=200 text=[Module 'a': stop OK]");
  stop_cleanly(p);
}

TEST_F(Process, KillWorkerFromRouter) {
  Portald p(dir, write_config({"a"}, ""));
  ASSERT_TRUE(log.wait_count({"router status a state=running"}, 1)) << p.output();
  write_config({"a"}, "[fake]\nkill = 1:a\n");
  p.signal(SIGHUP);
  ASSERT_TRUE(log.wait_count({"router gone a "}, 1)) << p.output();
  EXPECT_TRUE(log.matching({"router gone a "})[0].has("last_exit=[signal 9 (Killed) (killed by router: corrupt"));
  ASSERT_TRUE(log.wait_count({"router status a state=running"}, 2)) << p.output();
  stop_cleanly(p);
}

TEST_F(Process, UdsTransportAndInprocess) {
  Portald p(dir, write_config({"u", "inp"}, "[mod_u]\ntransport = uds\n[mod_inp]\nisolation = inprocess\n"));
  ASSERT_TRUE(log.wait_count({"router status u state=running"}, 1)) << p.output();
  ASSERT_TRUE(log.wait_count({"router inprocess inp state=inprocess"}, 1)) << p.output();
  EXPECT_TRUE(log.matching({"router attach u "})[0].has("transport=uds fds=1 timeout"));
  ASSERT_TRUE(worker_pid("u"));
  EXPECT_TRUE(log.matching({"worker start module=u "})[0].has("transport=uds"));
  EXPECT_TRUE(log.matching({"worker start module=u "})[0].has("fds=ok"));
  EXPECT_TRUE(log.matching({"router inprocess inp "})[0].has("lib=" + dir / "mods/mod_inp.so"));
  EXPECT_EQ(log.count({"worker start module=inp "}), 0u);
  stop_cleanly(p);
}

TEST_F(Process, RouterFatalConfigStopsEverything) {
  Portald p(dir, write_config({"a"}, ""));
  ASSERT_TRUE(log.wait_count({"router status a state=running"}, 1)) << p.output();
  pid_t a = worker_pid("a");
  ASSERT_TRUE(a);
  write_config({"a"}, "[fake]\nexit_code = 78\n");
  p.signal(SIGHUP);
  auto code = p.wait_exit();
  ASSERT_TRUE(code) << p.output();
  EXPECT_EQ(*code, 78);
  EXPECT_TRUE(process_gone(a));
}

TEST_F(Process, Hardening) {
  std::string sections =
      "[mod_limited]\nlimit_nofile = 64\nlimit_memory = 2G\n"
      "[mod_plain]\nno_new_privs = false\n";
  std::vector<std::string> mods{"limited", "plain"};
  bool root = ::geteuid() == 0;
  if (root) {
    sections += "[mod_dropped]\nrun_as = nobody:nogroup\n";
    mods.push_back("dropped");
    // The dropped worker must still reach the log.
    ::chmod(dir.path().c_str(), 0755);
    dir.write("fake.log", "");
    ::chmod(log.path().c_str(), 0666);
  }
  Portald p(dir, write_config(mods, sections));
  for (const auto& m : mods) ASSERT_TRUE(worker_pid(m)) << p.output();
  auto limited = log.matching({"worker start module=limited "})[0];
  EXPECT_EQ(limited.field("nofile"), "64");
  EXPECT_EQ(limited.field("as"), std::to_string(2ull << 30));
  EXPECT_EQ(limited.field("nnp"), "1");  // the default
  EXPECT_EQ(log.matching({"worker start module=plain "})[0].field("nnp"), "0");
  if (root) {
    auto dropped = log.matching({"worker start module=dropped "})[0];
    EXPECT_EQ(dropped.field("uid"), "65534");
    EXPECT_EQ(dropped.field("gid"), "65534");
    EXPECT_TRUE(dropped.has("fds=ok")) << dropped.text;
  }
  stop_cleanly(p);
}

TEST_F(Process, DebugFlagReachesWorkers) {
  Portald p(dir, write_config({"a"}, ""), {"-d"});
  ASSERT_TRUE(log.wait_count({"router status a state=running"}, 1)) << p.output();
  ASSERT_TRUE(worker_pid("a"));
  EXPECT_EQ(log.matching({"worker start module=a "})[0].field("level"), "debug");
  EXPECT_EQ(log.matching({"router configure"})[0].field("level"), "debug");
  stop_cleanly(p);
}

}  // namespace

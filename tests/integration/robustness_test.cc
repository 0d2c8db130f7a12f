// Hostile and heavy input through real processes: a corrupt ring record, 64 MiB bodies,
// deadlines, backpressure, malformed configs, SIGHUP reloads.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "instance.h"
#include "ipc/channel.h"

namespace portal::itest {
namespace {

using namespace std::chrono_literals;

// The channel memfd of a module's current incarnation, through portald's own copy of it
// (named portal-<instance>-<module>-g<generation>).
int open_channel(pid_t portald, const std::string& module, std::uint64_t generation) {
  std::string want = "/memfd:portal-itest-" + module + "-g" + std::to_string(generation) + " (deleted)";
  std::string dir = "/proc/" + std::to_string(portald) + "/fd/";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string() == want) return ::open(e.path().c_str(), O_RDWR);
  }
  return -1;
}

// Writes a record with an impossible length into the worker->router ring of a running
// worker and rings the router's doorbell (the worker's fd 6): what a worker gone mad would do.
void corrupt_worker_ring(pid_t portald, int worker_pid, std::uint64_t generation) {
  int fd = open_channel(portald, "crashy", generation);
  ASSERT_GE(fd, 0) << "channel memfd of crashy not found";
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  auto* h = static_cast<ipc::ChannelHeader*>(p);
  ASSERT_EQ(h->magic, ipc::kChannelMagic);
  ASSERT_EQ(h->generation, generation);
  std::byte* ring = static_cast<std::byte*>(p) + ipc::kChannelHeaderBytes + h->ring_bytes;
  std::uint64_t tail = h->to_router.tail.load();
  ipc::RecordHeader bad{0x7fffffff, static_cast<std::uint16_t>(ipc::RecordKind::data), 0, 0};
  std::memcpy(ring + (tail & (h->ring_bytes - 1)), &bad, sizeof bad);
  h->to_router.tail.store(tail + 64);
  ::munmap(p, static_cast<std::size_t>(st.st_size));
  ::close(fd);
  // An eventfd cannot be reopened through /proc: take a duplicate with pidfd_getfd.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, worker_pid, 0));
  ASSERT_GE(pidfd, 0) << std::strerror(errno);
  int bell = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, 6, 0));
  ::close(pidfd);
  ASSERT_GE(bell, 0) << "pidfd_getfd: " << std::strerror(errno);
  std::uint64_t one = 1;
  ASSERT_EQ(::write(bell, &one, sizeof one), 8);
  ::close(bell);
}

TEST(Robustness, CorruptRingRecordRestartsTheWorkerNotTheRouter) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  pid_t router = inst.router_pid();
  int pid = inst.module_pid("crashy");
  auto gen = inst.module("crashy")["generation"].get<std::uint64_t>();
  corrupt_worker_ring(inst.portald_pid(), pid, gen);
  ASSERT_TRUE(inst.wait_module("crashy", [&](const nlohmann::json& m) {
    return m.value("ready", false) && m.value("pid", -1) != pid;
  })) << inst.log();
  EXPECT_EQ(inst.router_pid(), router);
  EXPECT_FALSE(process_alive(pid));
  EXPECT_EQ(inst.call("/crashy/functions/echo", {}, "fine")->body, "fine");
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
}

TEST(Robustness, SixtyFourMebibyteBodiesPassIntact) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  std::string body(64u << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 2654435761u) >> 13);
  auto r = inst.request(Method::call, "/crashy/functions/echo", {}, body, 60s);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
}

// Messages larger than a ring, one after another: each fills the ring, so the sender waits
// for the consumer to ask for more. A lost wake-up there (a flag set after the consumer
// looked) once stalled about one request in four forever.
TEST(Robustness, LargerThanRingMessagesNeverStall) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"ring_bytes", "262144"}}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  std::string body(2u << 20, 'b');
  Headers big{{"h1", std::string(120000, 'u')}, {"h2", std::string(120000, 'v')}};
  for (int i = 0; i < 60; ++i) {
    body[static_cast<std::size_t>(i)] = static_cast<char>('a' + i % 26);
    auto r = inst.request(Method::call, "/crashy/functions/echo", big, body, 10s);
    ASSERT_TRUE(r) << "round " << i << ": " << r.error().message;
    ASSERT_EQ(r->status, 200) << "round " << i;
    ASSERT_TRUE(r->body == body) << "round " << i;
    r = inst.request(Method::get, "/auth/whoami", big, body, 10s);
    ASSERT_TRUE(r) << "round " << i << ": " << r.error().message;
    ASSERT_EQ(r->status, 200) << "round " << i;
  }
}

TEST(Robustness, HungModuleGets504AtItsDeadline) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"timeout_ms", "300"}, {"threads", "2"}}}, {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  auto t0 = std::chrono::steady_clock::now();
  auto r = inst.call("/crashy/functions/hang", {{"ms", "5000"}});
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_LT(took, 3s);
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
}

TEST(Robustness, FullQueueAnswers503AndNeverBlocksTheRouter) {
  Instance inst(std::vector<ModuleConf>{{"crashy", {{"threads", "1"}, {"ring_bytes", "4096"}, {"queue_limit", "4"}, {"timeout_ms", "20000"}}},
                 {"hello", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  auto c = tools::CtlClient::connect(inst.socket());
  ASSERT_TRUE(c);
  // One request occupies the only handler thread; the rest fill the ring, then the queue.
  std::vector<std::uint64_t> ids;
  tools::CtlRequest hang{Method::call, "/crashy/functions/hang", {{"ms", "1500"}}, {}, {}, {}};
  ids.push_back(*(*c)->send(hang));
  std::this_thread::sleep_for(100ms);
  tools::CtlRequest echo{Method::call, "/crashy/functions/echo", {}, std::string(300, 'x'), {}, {}};
  for (int i = 0; i < 60; ++i) ids.push_back(*(*c)->send(echo));
  // The router keeps serving others meanwhile.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(inst.get("/hello/resources/greeting")->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  int ok = 0, busy = 0;
  for (auto id : ids) {
    auto r = (*c)->wait(id, 20s);
    ASSERT_TRUE(r) << r.error().message;
    if (r->status == 200) ++ok;
    if (r->status == 503) ++busy;
  }
  EXPECT_GT(busy, 0);
  EXPECT_GT(ok, 4);
  EXPECT_EQ(ok + busy, 61);
}

std::pair<int, std::string> run_portald(const std::string& config) {
  return run_command(build_root() + "/supervisor/portald -c " + config + " 2>&1");
}

TEST(Robustness, MalformedConfigNamesFileAndLine) {
  char dir[] = "/tmp/portal-badconf-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/portal.conf";
  std::ofstream(path) << "[core]\ndata_dir = " << dir << "\n[modules\nload = hello\n";
  auto [rc, out] = run_portald(path);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find(path + ":3:"), std::string::npos) << out;
  std::ofstream(path, std::ios::trunc) << "[core]\ndata_dir = " << dir << "\n[modules]\nload = hello\njunk line\n";
  std::tie(rc, out) = run_portald(path);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find(path + ":5:"), std::string::npos) << out;
  std::tie(rc, out) = run_portald(std::string(dir) + "/missing.conf");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("missing.conf"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

TEST(Robustness, SighupAddsRemovesRestartsAndLeavesOthersAlone) {
  Instance inst(std::vector<ModuleConf>{{"hello", {}}, {"myapp", {{"message", "one"}}}, {"crashy", {}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  int hello_pid = inst.module_pid("hello");
  int myapp_pid = inst.module_pid("myapp");
  // crashy removed, myapp changed, bench added, hello untouched.
  inst.rewrite_config(std::vector<ModuleConf>{{"hello", {}}, {"myapp", {{"message", "two"}}}, {"bench", {{"library", module_library("bench")}}}});
  ASSERT_EQ(::kill(inst.portald_pid(), SIGHUP), 0);
  ASSERT_TRUE(inst.wait_ready("bench")) << inst.log();
  ASSERT_TRUE(inst.wait_module("myapp", [&](const nlohmann::json& m) {
    return m.value("ready", false) && m.value("pid", -1) != myapp_pid;
  })) << inst.log();
  EXPECT_NE(inst.get("/myapp/resources/message")->body.find("two"), std::string::npos);
  EXPECT_EQ(inst.module_pid("hello"), hello_pid);
  EXPECT_EQ(inst.call("/bench/echo", {}, "b")->body, "b");
  for (int i = 0; i < 200 && inst.module("crashy").is_object(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(inst.module("crashy").is_null()) << inst.module("crashy").dump();
  EXPECT_EQ(inst.call("/crashy/functions/echo")->status, 404);
}

}  // namespace
}  // namespace portal::itest

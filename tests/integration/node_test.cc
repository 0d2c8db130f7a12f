// Federation through real processes (issue 6): several instances on loopback, each with
// the node module, linked over TLS; requests from ctl, HTTP and the shell.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <mutex>
#include <thread>

#include "../../modules/web/tests/test_client.h"
#include "cli_client.h"
#include "node_fixture.h"

namespace portal::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class Federation : public NodeFixture {
 protected:
  static std::uint16_t web_port(Instance& inst) {
    auto status = inst.get("/web/resources/status");
    std::smatch m;
    if (!status || !std::regex_search(status->body, m, std::regex("Port: ([0-9]+)\n"))) return 0;
    return static_cast<std::uint16_t>(std::stoi(m[1]));
  }

  static web::test::Reply http(std::uint16_t port, const std::string& method, const std::string& target,
                               const std::string& body = {}) {
    const auto t0 = Clock::now();
    web::test::Client c(port);
    // Without an answer, status stays 0 and reason says what went wrong, for the failure message.
    auto failed = [&](const char* what) {
      web::test::Reply none;
      none.reason = std::string(what) + " (" + std::strerror(errno) + ") after " +
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()) +
                    " ms";
      return none;
    };
    if (!c.connected()) return failed("connect failed");
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!c.send(req)) return failed("send failed");
    errno = 0;
    auto r = c.read_response();
    return r ? *r : failed("no response");
  }
  // 64 requests wait on a slow or stalled peer while 50 requests to factory must each be
  // answered within a second (not queued behind it); the waiting ones end in 503 or 504.
  static void expect_factory_unaffected(Instance& office, const std::string& method, const std::string& slow_target,
                                        const std::string& body) {
    const std::uint16_t port = web_port(office);
    std::vector<std::future<web::test::Reply>> to_slow;
    for (int i = 0; i < 64; ++i)
      to_slow.push_back(std::async(std::launch::async, [=] { return http(port, method, slow_target, body); }));
    std::this_thread::sleep_for(300ms);  // the slow link has its queue by now
    for (int i = 0; i < 50; ++i) {
      auto t0 = Clock::now();
      EXPECT_EQ(http(port, "GET", "/api/node/factory/hello/resources/greeting").status, 200);
      EXPECT_LT(Clock::now() - t0, 1s);
    }
    bool all_answered = true;
    for (auto& f : to_slow) {
      auto r = f.get();
      EXPECT_TRUE(r.status == 503 || r.status == 504) << r.status << " " << r.reason << " " << r.body;
      all_answered = all_answered && r.status != 0;
    }
    if (!all_answered) ADD_FAILURE() << "a request got no HTTP answer; office's log:\n" << office.log();
  }

};

// A TCP relay that passes its client's bytes on at `rate` bytes per second and the
// server's back at full speed: to the client, the server is a peer that reads that slowly.
class ThrottleProxy {
 public:
  ThrottleProxy(std::uint16_t target, std::size_t rate) : target_(target), rate_(rate) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      ADD_FAILURE() << "proxy: " << std::strerror(errno);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~ThrottleProxy() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    std::lock_guard lock(mu_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : pumps_) t.join();
    for (int fd : fds_) ::close(fd);
  }
  std::uint16_t port() const { return port_; }

 private:
  void accept_loop() {
    for (;;) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      std::lock_guard lock(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      pumps_.emplace_back(pump, client, server, rate_);
      pumps_.emplace_back(pump, server, client, 0);
    }
  }
  static void pump(int from, int to, std::size_t rate) {
    char buf[4096];
    const std::size_t chunk = rate ? std::min(rate / 4, sizeof buf) : sizeof buf;
    for (;;) {
      ssize_t n = ::read(from, buf, chunk);
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(to, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) return;
        off += w;
      }
      if (rate) std::this_thread::sleep_for(std::chrono::microseconds(n * 1000000 / static_cast<ssize_t>(rate)));
    }
    ::shutdown(to, SHUT_WR);
  }

  std::uint16_t target_;
  std::size_t rate_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
};

// Two nodes: GET, SET and CALL on the other node from ctl, HTTP and the shell; the identity
// the peer key maps to; a node with another federation key never links.
TEST_F(Federation, TwoNodesReachEachOtherFromEveryDoor) {
  const std::uint16_t fport = free_port(), oport = free_port(), o2port = free_port(), xport = free_port();
  auto factory = node({"factory", fport});
  ASSERT_TRUE(factory);
  // office presents root's API key of factory (every test instance has the same root key).
  auto office = node({"office", oport, {{"peer_keys", std::string("factory:") + kRootKey}},
                      peer_section("factory", fport), true, true});
  auto office2 = node({"office2", o2port, {}, peer_section("factory", fport)});
  ASSERT_TRUE(wait_peer(*office, "factory")) << office->get("/node/resources/peers")->body << office->log();
  ASSERT_TRUE(wait_peer(*office2, "factory")) << office2->log();
  EXPECT_TRUE(wait_peer(*factory, "office"));

  auto r = office->get("/node/factory/hello/resources/greeting");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello from Portal!\n");
  r = office->request(Method::set, "/node/factory/crashy/functions/echo", {}, "set body");
  EXPECT_EQ(r->body, "set body");
  r = office->call("/node/factory/crashy/functions/echo", {}, std::string("bin\0ary", 7));
  EXPECT_EQ(r->body, std::string("bin\0ary", 7));
  EXPECT_EQ(office->get("/node/factory/no/such/path")->status, 404);
  EXPECT_EQ(office->get("/node/nobody/core/status")->status, 404);
  // Both directions on the same link: factory reaches office through the link office dialled.
  EXPECT_EQ(factory->get("/node/office/hello/resources/greeting")->body, "Hello from Portal!\n");

  // Identity: office acts as factory's root; office2 presents no key and is anonymous there.
  EXPECT_EQ(office->get("/node/factory/auth/whoami")->body.substr(0, 11), "User: root\n");
  EXPECT_EQ(office->call("/node/factory/myapp/functions/reset")->status, 200);
  EXPECT_EQ(office2->get("/node/factory/auth/whoami")->body, "anonymous (not logged in)\n");
  auto denied = office2->call("/node/factory/myapp/functions/reset");
  EXPECT_TRUE(denied->status == 401 || denied->status == 403) << denied->status;
  EXPECT_EQ(office2->get("/node/factory/myapp/resources/counter")->status, 200);

  // HTTP on office.
  std::uint16_t port = web_port(*office);
  ASSERT_NE(port, 0);
  auto h = http(port, "GET", "/api/node/factory/hello/resources/greeting");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "Hello from Portal!\n");
  EXPECT_EQ(http(port, "PUT", "/api/node/factory/crashy/functions/echo", "over http").body, "over http");
  EXPECT_EQ(http(port, "POST", "/api/node/factory/crashy/functions/echo", "posted").body, "posted");
  EXPECT_EQ(http(port, "GET", "/api/node/factory/myapp/resources/counter").status, 200);

  // The shell on office.
  CliClient cli(office->dir() + "/run/cli.sock");
  ASSERT_TRUE(cli.connected());
  ASSERT_TRUE(cli.expect("portal:/> "));
  std::string out = cli.run("node peers");
  EXPECT_NE(out.find("NAME"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("factory +127\\.0\\.0\\.1 +" + std::to_string(fport) + " +ready"))) << out;
  out = cli.run("node status");
  EXPECT_NE(out.find("Peers: 1 connected, 0 disconnected\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Messages sent: "), std::string::npos) << out;
  out = cli.run("ping factory");
  EXPECT_TRUE(std::regex_search(out, std::regex("factory: [0-9.]+ms"))) << out;
  out = cli.run("cd /node/factory", "portal:/node/factory> ");
  out = cli.run("get hello/resources/greeting", "portal:/node/factory> ");
  EXPECT_NE(out.find("Hello from Portal!"), std::string::npos) << out;
  out = cli.run("set /node/factory/crashy/functions/echo typed in the shell", "portal:/node/factory> ");
  EXPECT_NE(out.find("typed in the shell"), std::string::npos) << out;
  // A query makes it a CALL with headers; factory answers its own node name to office's root.
  out = cli.run("get core/config/get?module=node&key=name", "portal:/node/factory> ");
  EXPECT_NE(out.find("factory"), std::string::npos) << out;
  out = cli.run("ls /node/factory/hello/resources", "portal:/node/factory> ");
  EXPECT_NE(out.find("greeting"), std::string::npos) << out;
  out = cli.run("tracert /node/factory/core/status", "portal:/node/factory> ");
  EXPECT_NE(out.find("hop 1: factory"), std::string::npos) << out;
  EXPECT_NE(out.find("result: 200"), std::string::npos) << out;

  // Another federation key: the link never comes up, and factory keeps serving office.
  std::string other_key = std::string(kFederationKey) + "-not-the-same";
  auto intruder = node({"intruder", xport, {{"federation_key", other_key}}, peer_section("factory", fport)});
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(wait_peer(*intruder, "factory", "ready", 100ms));
  auto peers = factory->get("/node/resources/peers")->body;
  EXPECT_EQ(peers.find("intruder"), std::string::npos) << peers;
  EXPECT_EQ(office->get("/node/factory/hello/resources/greeting")->status, 200);
}

// office -> hub <- factory: factory only dials out. office reaches factory through the hub;
// without the hub, requests fail fast with 503; after a restart the links come back.
TEST_F(Federation, HubRelaysAndLinksComeBack) {
  const std::uint16_t hport = free_port(), fport = free_port(), oport = free_port();
  auto hub = node({"hub", hport});
  auto factory = node({"factory", fport, {{"listen", "false"}}, peer_section("hub", hport)});
  auto office = node({"office", oport, {}, peer_section("hub", hport) + "[peer:factory]\nhub = hub\nkey = " + kRootKey + "\n"});
  ASSERT_TRUE(wait_peer(*office, "hub")) << office->log();
  ASSERT_TRUE(wait_peer(*hub, "factory")) << hub->log() << factory->log();

  auto r = office->get("/node/factory/hello/resources/greeting");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "Hello from Portal!\n");
  // The key travels end to end: factory maps it although office's link is to the hub.
  EXPECT_EQ(office->get("/node/factory/auth/whoami")->body.substr(0, 11), "User: root\n");
  EXPECT_EQ(office->get("/node/hub/auth/whoami")->body, "anonymous (not logged in)\n");
  r = office->get("/node/functions/trace", {{"path", "/node/factory/core/status"}});
  EXPECT_TRUE(std::regex_search(r->body, std::regex("hop 1: hub +[0-9.]+ms\n  hop 2: factory +[0-9.]+ms\n"))) << r->body;
  EXPECT_TRUE(std::regex_search(r->body, std::regex("result: 200 \\([0-9]+ bytes, [0-9.]+ms at the destination\\)\n")))
      << r->body;
  EXPECT_NE(hub->get("/node/resources/status")->body.find("Relayed: "), std::string::npos);

  hub->kill_tree();
  ASSERT_TRUE(wait_peer(*office, "hub", "backoff", 5s)) << office->get("/node/resources/peer/hub")->body;
  auto t0 = Clock::now();
  r = office->get("/node/factory/hello/resources/greeting");
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_LT(Clock::now() - t0, 1s);
  // The redials back off: 200 ms, 400 ms, 800 ms, then 1600 ms (each drawn from its upper
  // half), so within 2 s there are 2 or 3 failed attempts, not dozens.
  std::this_thread::sleep_for(2s);
  auto failures = [&] {
    std::smatch m;
    std::string detail = office->get("/node/resources/peer/hub")->body;
    return std::regex_search(detail, m, std::regex("Connect failures: ([0-9]+)")) ? std::stoi(m[1]) : -1;
  };
  int failed = failures();
  EXPECT_GE(failed, 2);
  EXPECT_LE(failed, 4);
  EXPECT_NE(office->get("/node/resources/peer/hub")->body.find("Next attempt in: "), std::string::npos);

  ASSERT_TRUE(hub->start()) << hub->log();
  EXPECT_TRUE(wait_peer(*office, "hub", "ready", 20s)) << office->get("/node/resources/peer/hub")->body;
  EXPECT_TRUE(wait_peer(*hub, "factory", "ready", 20s));
  EXPECT_EQ(office->get("/node/factory/hello/resources/greeting")->status, 200);
}

// A -> B -> C -> A for a node nobody has: every relay passes it on once, and it is dropped
// at the hop limit (C allows one hop) or where it comes back (the visited list).
TEST_F(Federation, LoopsAreDroppedAtTheHopLimitOrTheVisitedList) {
  const std::uint16_t pa = free_port(), pb = free_port(), pc = free_port();
  auto a = node({"a", pa, {}, peer_section("b", pb) + "[peer:ghost]\nhub = b\n"});
  auto b = node({"b", pb, {}, peer_section("c", pc) + "[peer:ghost]\nhub = c\n"});
  auto c = node({"c", pc, {{"max_hops", "1"}}, peer_section("a", pa) + "[peer:ghost]\nhub = a\n"});
  ASSERT_TRUE(wait_peer(*a, "b") && wait_peer(*b, "c") && wait_peer(*c, "a"));
  auto relayed = [](Instance& n) {
    std::smatch m;
    std::string body = n.get("/node/resources/status")->body;
    return std::regex_search(body, m, std::regex("Relayed: ([0-9]+)")) ? std::stoi(m[1]) : -1;
  };
  auto r = a->get("/node/ghost/core/status");
  EXPECT_EQ(r->status, 508);
  EXPECT_EQ(r->body, "Hop limit reached (1)\n");
  EXPECT_EQ(relayed(*b), 1);
  EXPECT_EQ(relayed(*c), 0);
  r = b->get("/node/ghost/core/status");  // b -> c -> a -> (b: visited)
  EXPECT_EQ(r->status, 508);
  EXPECT_NE(r->body.find("Loop detected"), std::string::npos) << r->body;
  EXPECT_EQ(relayed(*c), 1);
  EXPECT_EQ(relayed(*a), 1);
  EXPECT_EQ(relayed(*b), 1);
}

// Hostile bytes at the federation port of a running node: each connection is closed, the
// node keeps serving its links.
TEST_F(Federation, HostileConnectionsAreClosedAndTheNodeKeepsServing) {
  const std::uint16_t fport = free_port(), oport = free_port();
  auto factory = node({"factory", fport});
  auto office = node({"office", oport, {}, peer_section("factory", fport)});
  ASSERT_TRUE(wait_peer(*office, "factory"));
  {  // not TLS at all
    web::test::Client c(fport);
    c.send("GET / HTTP/1.1\r\n\r\nPRT\0garbage garbage garbage");
    EXPECT_TRUE(c.closed_by_peer());
  }
  for (std::string frame : {std::string("garbage before the magic"),
                            std::string("PRT\0\0\2\5\xff\xff\xff\xff", 11),  // a 4 GiB AUTH_RESPONSE
                            std::string("PRT\0\0\2\1\0\0\0\4abcd", 15)}) {   // a request before authentication
    web::test::TlsClient c(fport);
    ASSERT_TRUE(c.handshake_ok());
    c.send(frame);
    EXPECT_TRUE(c.closed_by_peer()) << frame.size();
  }
  // 200 connections that never authenticate: refused or closed at the deadline; the link
  // that is up keeps working meanwhile.
  std::vector<std::unique_ptr<web::test::Client>> flood;
  for (int i = 0; i < 200; ++i) flood.push_back(std::make_unique<web::test::Client>(fport));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(office->get("/node/factory/hello/resources/greeting")->status, 200);
  int closed = 0;
  for (auto& c : flood) closed += c->closed_by_peer();
  EXPECT_EQ(closed, 200);
  EXPECT_EQ(office->get("/node/factory/hello/resources/greeting")->status, 200);
  EXPECT_TRUE(process_alive(factory->router_pid()));
}

// A stalled peer (its processes stopped) fills only its own link: requests to it end in 503
// or 504, requests to another peer keep being answered meanwhile.
TEST_F(Federation, AStalledPeerDoesNotHoldUpTheOthers) {
  const std::uint16_t fport = free_port(), sport = free_port(), oport = free_port();
  auto factory = node({"factory", fport});
  auto slow = node({"slow", sport});
  auto office = node({"office", oport, {{"request_timeout_ms", "3000"}},
                      peer_section("factory", fport) + peer_section("slow", sport), true});
  ASSERT_TRUE(wait_peer(*office, "factory") && wait_peer(*office, "slow"));
  std::vector<pid_t> stopped{slow->portald_pid()};
  for (std::size_t i = 0; i < stopped.size(); ++i)
    for (pid_t c : children_of(stopped[i])) stopped.push_back(c);
  for (pid_t p : stopped) ::kill(p, SIGSTOP);
  expect_factory_unaffected(*office, "GET", "/api/node/slow/hello/resources/greeting", {});
  for (pid_t p : stopped) ::kill(p, SIGCONT);
  EXPECT_TRUE(wait_peer(*office, "slow", "ready", 20s));
}

// A peer that reads 1 KiB/s (behind a throttling relay) with 64 large requests waiting on
// it: they end in 503 or 504, and office -> factory never waits for them.
TEST_F(Federation, APeerThatReadsSlowlyFillsOnlyItsOwnLink) {
  const std::uint16_t fport = free_port(), sport = free_port(), oport = free_port();
  auto factory = node({"factory", fport});
  auto slow = node({"slow", sport});
  ThrottleProxy relay(sport, 1024);
  auto office = node({"office", oport, {{"request_timeout_ms", "3000"}},
                      peer_section("factory", fport) + peer_section("slow", relay.port()), true});
  ASSERT_TRUE(wait_peer(*office, "factory") && wait_peer(*office, "slow")) << office->log();
  expect_factory_unaffected(*office, "POST", "/api/node/slow/crashy/functions/echo",
                            std::string(16 * 1024, 'x'));
  EXPECT_EQ(factory->get("/hello/resources/greeting")->status, 200);
}

// Hundreds of failed dials and twenty lost links leave no descriptors or memory behind in
// the node worker.
TEST_F(Federation, RedialsAndLostLinksLeakNothing) {
  const std::uint16_t fport = free_port(), oport = free_port(), nobody = free_port();
  auto factory = node({"factory", fport});
  auto office = node({"office", oport, {{"reconnect_initial_ms", "10"}, {"reconnect_max_ms", "20"}},
                      peer_section("factory", fport) + peer_section("nobody", nobody)});
  ASSERT_TRUE(wait_peer(*office, "factory"));
  const int pid = office->module_pid("node");
  ASSERT_GT(pid, 0);
  auto fds = [pid] {
    int n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
    return n;
  };
  auto rss_kb = [pid] {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1L;
  };
  auto attempts = [&] {
    std::smatch m;
    std::string body = office->get("/node/resources/peer/nobody")->body;
    return std::regex_search(body, m, std::regex("Connect attempts: ([0-9]+)")) ? std::stol(m[1]) : -1L;
  };
  std::this_thread::sleep_for(1s);  // warm up: allocator pools, the first few hundred dials
  const int fd0 = fds();
  const long rss0 = rss_kb(), tries0 = attempts();
  for (int i = 0; i < 20; ++i) {
    auto r = factory->admin(Method::call, "/core/modules/node", {{"action", "restart"}});
    ASSERT_TRUE(r && r->status == 200);
    ASSERT_TRUE(factory->wait_ready("node"));
    ASSERT_TRUE(wait_peer(*office, "factory", "ready", 10s)) << office->get("/node/resources/peer/factory")->body;
  }
  std::this_thread::sleep_for(1s);
  EXPECT_GT(attempts() - tries0, 100);
  std::smatch m;
  auto detail = office->get("/node/resources/peer/factory")->body;
  ASSERT_TRUE(std::regex_search(detail, m, std::regex("Connect attempts: ([0-9]+)"))) << detail;
  EXPECT_GT(std::stoi(m[1]), 20) << detail;  // every restart cost office its link
  EXPECT_EQ(office->get("/node/factory/hello/resources/greeting")->status, 200);
  EXPECT_LE(fds(), fd0 + 2);
  EXPECT_LT(rss_kb() - rss0, 4096) << "kB";
}

}  // namespace
}  // namespace portal::itest

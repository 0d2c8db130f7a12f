// mod_cli on the stub router, with a raw client on its real socket in a
// temporary folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "testing/stub_router.h"

namespace portal::cli::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr std::string_view kHello = "Portal v2.0.0 CLI\nType 'help' for available commands.\nportal:/> ";

// A terminal-less client: writes bytes, reads until some text shows up. The
// stub's event loop only runs when pumped, so every wait pumps.
class Client {
 public:
  Client(const std::string &path, std::function<bool()> pump) : pump_(std::move(pump)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { ::close(fd_); }

  bool connected() const { return connected_; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EAGAIN) {
        drain();
        if (!pump_()) return false;
      } else {
        return false;
      }
    }
    return true;
  }
  // Reads until `text` arrived after what earlier waits consumed; consumes
  // through it.
  bool expect(std::string_view text) {
    for (;;) {
      if (std::size_t at = seen_.find(text, pos_); at != std::string::npos) {
        pos_ = at + text.size();
        return true;
      }
      if (eof_ || !pump_()) return false;
      drain();
    }
  }
  bool closed_by_server() {
    while (!eof_) {
      if (!pump_()) return false;
      drain();
    }
    return true;
  }
  std::string unread() const { return seen_.substr(pos_); }
  const std::string &all() const { return seen_; }

 private:
  void drain() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        seen_.append(buf, static_cast<std::size_t>(n));
      } else {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof_ = true;
        return;
      }
    }
  }

  std::function<bool()> pump_;
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string seen_;
  std::size_t pos_ = 0;
};

class CliModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portal-cli-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/cli.sock";
    stub_.set_config("socket", socket_);
    deadline_ = Clock::now() + std::chrono::seconds(20);
    stub_.on_send("/core/resolve", [](const Message &m) {
      std::string cwd = m.header_or("cwd", "/"), target = m.header_or("target", "");
      std::string path = target.starts_with('/') ? target : (cwd == "/" ? "" : cwd) + "/" + target;
      if (path == "/hello" || path == "/hello/resources" || path == "/")
        return respond(200, path + std::string(1, '\0'));
      return respond(status::not_found);
    });
    stub_.on_send("/hello/*", [](const Message &m) { return respond(200, "Hello from " + m.path + "\n"); });
  }
  void TearDown() override {
    if (stub_.loaded()) {
      EXPECT_TRUE(stub_.unload());
      EXPECT_TRUE(stub_.leftovers().empty()) << "the module removes what it registered";
      EXPECT_FALSE(fs::exists(socket_)) << "unload removes the socket file";
    }
    fs::remove_all(dir_);
  }

  bool pump() {
    if (Clock::now() > deadline_) return false;
    stub_.poll();
    boost::asio::io_context &io = stub_.io();
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(1));
    return true;
  }
  std::unique_ptr<Client> connect() {
    auto c = std::make_unique<Client>(socket_, [this] { return pump(); });
    EXPECT_TRUE(c->connected());
    EXPECT_TRUE(c->expect(kHello)) << c->all();
    return c;
  }
  std::optional<Message> last_sent(std::string_view path) {
    std::vector<Message> sent = stub_.sent();
    for (auto it = sent.rbegin(); it != sent.rend(); ++it)
      if (it->path == path) return *it;
    return std::nullopt;
  }

  testing::StubRouter stub_;
  std::string dir_, socket_;
  Clock::time_point deadline_;
};

TEST_F(CliModuleTest, GreetsWithThePromptAndAnswersVersion) {
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("version\n"));
  EXPECT_TRUE(c->expect("version\nPortal v2.0.0\nportal:/> ")) << c->all();
  EXPECT_EQ(stub_.request(Method::get, "/cli/resources/status").body, "CLI\nSocket: " + socket_ + "\nClients: 1\n");
}

TEST_F(CliModuleTest, CdPwdLsAndGetAreRelativeToTheCurrentPath) {
  stub_.on_send("/core/ls",
                [](const Message &m) { return respond(200, "  listing of " + m.header_or("prefix", "?") + "\n"); });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("cd /hello\n"));
  ASSERT_TRUE(c->expect("portal:/hello> ")) << c->all();
  ASSERT_TRUE(c->send("pwd\nls\nls resources\n"));
  EXPECT_TRUE(c->expect("/hello\n"));
  EXPECT_TRUE(c->expect("  listing of /hello\n"));
  EXPECT_TRUE(c->expect("  listing of /hello/resources\n")) << c->all();
  ASSERT_TRUE(c->send("get resources/greeting\n"));
  EXPECT_TRUE(c->expect("Hello from /hello/resources/greeting\nportal:/hello> ")) << c->all();
  ASSERT_TRUE(c->send("get functions/go?x=1&y=2\n"));
  EXPECT_TRUE(c->expect("Hello from /hello/functions/go\n"));
  std::optional<Message> m = last_sent("/hello/functions/go");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method, Method::call);
  EXPECT_EQ(m->header_or("x", ""), "1");
  EXPECT_EQ(m->header_or("y", ""), "2");
  ASSERT_TRUE(c->send("cd nowhere\n"));
  EXPECT_TRUE(c->expect("No such path\nportal:/hello> ")) << c->all();
  ASSERT_TRUE(c->send("cd\n"));
  EXPECT_TRUE(c->expect("portal:/> "));
}

TEST_F(CliModuleTest, RequestsCarryThePeerUidThenTheLoginToken) {
  stub_.on_send("/auth/login", [](const Message &m) {
    if (m.header_or("password", "") == "pw") return respond(200, "tok123\n" + std::string(1, '\0'));
    return respond(401, "Authentication failed\n");
  });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("get /hello/x\n"));
  ASSERT_TRUE(c->expect("Hello from /hello/x\n"));
  std::optional<Message> m = last_sent("/hello/x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ctx.credentials.peer_uid, static_cast<std::int64_t>(::getuid()));
  EXPECT_EQ(m->ctx.credentials.source, "uid:" + std::to_string(::getuid()));
  EXPECT_TRUE(m->ctx.credentials.token.empty());
  EXPECT_TRUE(m->ctx.auth.user.empty()) << "never an identity";

  ASSERT_TRUE(c->send("login root wrong\n"));
  EXPECT_TRUE(c->expect("Login failed\n"));
  ASSERT_TRUE(c->send("login root\n"));
  ASSERT_TRUE(c->expect("Password: ")) << c->all();
  ASSERT_TRUE(c->send("pw\n"));
  EXPECT_TRUE(c->expect("Logged in as root\nportal:/> ")) << c->all();
  EXPECT_EQ(c->all().find("pw\n"), std::string::npos) << "the password is not echoed";
  ASSERT_TRUE(c->send("login root\n"));
  ASSERT_TRUE(c->expect("Password: "));
  ASSERT_TRUE(c->send("\x03version\n"));
  EXPECT_TRUE(c->expect("^C\nportal:/> version\nPortal v2.0.0\n")) << "Ctrl-C drops the password prompt";
  ASSERT_TRUE(c->send("get /hello/y\nlock printer\n"));
  ASSERT_TRUE(c->expect("Hello from /hello/y\n"));
  m = last_sent("/hello/y");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ctx.credentials.token, "tok123");
  EXPECT_FALSE(m->ctx.credentials.peer_uid);
  ASSERT_TRUE(c->expect("(status 404)\n"));
  m = last_sent("/core/locks/lock");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header_or("owner", ""), "root@cli:1");
}

TEST_F(CliModuleTest, HelpListsBuiltinAndModuleCommands) {
  stub_.on_send("/core/paths", [](const Message &) {
    return respond(200,
                   "Registered paths:\n  /kv/cli/commands  \xe2\x86\x92 "
                   "kv\n  /kv/cli/run  \xe2\x86\x92 kv\n");
  });
  stub_.on_send("/kv/cli/commands",
                [](const Message &) { return respond(200, "kv set\t<key> <value>\tStore a value\n"); });
  stub_.on_send("/kv/cli/run", [](const Message &m) {
    return respond(200, "ran [" + m.header_or("line", "") + "] in " + m.header_or("cwd", "") + "\n");
  });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("help\n"));
  ASSERT_TRUE(c->expect("Commands:\n"));
  EXPECT_TRUE(c->expect("  help, ?"));
  EXPECT_TRUE(c->expect("  user create <user> <password> [groups]"));
  EXPECT_TRUE(c->expect("From module kv:\n  kv set <key> <value>"));
  EXPECT_TRUE(c->expect("portal:/> "));
  ASSERT_TRUE(c->send("help get\n"));
  EXPECT_TRUE(c->expect("Usage: get <path>[?k=v&...]"));
  ASSERT_TRUE(c->send("kv set a b\n"));
  EXPECT_TRUE(c->expect("ran [kv set a b] in /\n")) << c->all();
}

TEST_F(CliModuleTest, UnknownCommandSuggestsWhatToTry) {
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("frob x\n"));
  EXPECT_TRUE(
      c->expect("Unknown command: frob\nTry: get /frob  \xc2\xb7  help "
                "frob  \xc2\xb7  ls /frob\nportal:/> "))
      << c->all();
}

TEST_F(CliModuleTest, TabCompletesCommandsAndPaths) {
  stub_.on_send("/core/ls", [](const Message &m) {
    if (m.header_or("prefix", "") != "/hello") return respond(200, "  (empty)\n");
    return respond(200,
                   "  functions                      /\n  resources            "
                   "          /\n  readme                         [hello]\n");
  });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("vers\t\n"));
  EXPECT_TRUE(c->expect("Portal v2.0.0\n")) << c->all();
  ASSERT_TRUE(c->send("cd /hello\n"));
  ASSERT_TRUE(c->expect("portal:/hello> "));
  ASSERT_TRUE(c->send("get r\t"));
  EXPECT_TRUE(c->expect("\nreadme  resources/  \nportal:/hello> get re")) << c->all();
  ASSERT_TRUE(c->send("s\tgreeting\n"));
  EXPECT_TRUE(c->expect("Hello from /hello/resources/greeting\n")) << c->all();
}

TEST_F(CliModuleTest, SubscribePrintsEventsLiveAndEndsAtDisconnect) {
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  {
    auto c = connect();
    ASSERT_TRUE(c->send("subscribe /events/x/*\n"));
    ASSERT_TRUE(c->expect("Subscribed to /events/x/*\nportal:/> ")) << c->all();
    std::vector<testing::StubSubscription> subs = stub_.subscriptions();
    ASSERT_EQ(subs.size(), 1u);
    EXPECT_EQ(subs[0].kind, testing::StubSubscription::Kind::as);
    EXPECT_EQ(subs[0].credentials.peer_uid, static_cast<std::int64_t>(::getuid()));
    ASSERT_TRUE(c->send("sta"));  // a half-typed line is redrawn after the event
    ASSERT_TRUE(c->expect("sta"));
    EXPECT_EQ(stub_.deliver_event("/events/x/ping", "hello\n"), 1u);
    EXPECT_TRUE(c->expect("[EVENT] /events/x/ping: hello\nportal:/> sta")) << c->all();
    ASSERT_TRUE(c->send("\x03unsubscribe /events/x/*\n"));
    EXPECT_TRUE(c->expect("Unsubscribed from /events/x/*\n"));
    EXPECT_TRUE(stub_.subscriptions().empty());
    ASSERT_TRUE(c->send("subscribe /events/y/*\n"));
    ASSERT_TRUE(c->expect("Subscribed to /events/y/*\n"));
    ASSERT_TRUE(c->send("verbose\n"));
    ASSERT_TRUE(c->expect("Verbose trace on\n"));
    EXPECT_EQ(stub_.subscriptions().size(), 2u);
  }
  ASSERT_TRUE([&] {
    while (!stub_.subscriptions().empty())
      if (!pump()) return false;
    return true;
  }()) << "disconnecting ends subscriptions and traces";
}

TEST_F(CliModuleTest, HostileLongLineDoesNotHurt) {
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send(std::string(64 * 1024, 'x') + "\n" + std::string(1000, '\x1b') + "\nversion\n"));
  EXPECT_TRUE(c->expect("Unknown command: xxx"));
  EXPECT_TRUE(c->expect("Portal v2.0.0\n")) << c->unread().substr(0, 200);
}

TEST_F(CliModuleTest, CtrlDAndQuitSayGoodbye) {
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("\x04"));
  EXPECT_TRUE(c->expect("Goodbye.\n"));
  EXPECT_TRUE(c->closed_by_server());
  auto d = connect();
  ASSERT_TRUE(d->send("exit\n"));
  EXPECT_TRUE(d->expect("Goodbye.\n"));
  EXPECT_TRUE(d->closed_by_server());
}

TEST_F(CliModuleTest, TraceLinesArePrintedLive) {
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("debug /hello\n"));
  ASSERT_TRUE(c->expect("Debug trace on (filter: /hello)\nportal:/> ")) << c->all();
  std::vector<testing::StubSubscription> subs = stub_.subscriptions();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].kind, testing::StubSubscription::Kind::trace);
  EXPECT_TRUE(subs[0].debug);
  EXPECT_EQ(subs[0].pattern, "/hello");
  EXPECT_EQ(stub_.deliver_trace("\u2192 #7 [GET] - \u2192 /hello/x (user:-)"), 1u);
  EXPECT_TRUE(c->expect("\u2192 #7 [GET] - \u2192 /hello/x (user:-)\nportal:/> ")) << c->all();
  ASSERT_TRUE(c->send("debug off\n"));
  EXPECT_TRUE(c->expect("Debug trace off\n"));
  EXPECT_TRUE(stub_.subscriptions().empty());
  stub_.refuse_subscriptions(status::forbidden, "Trace is for admins\n");
  ASSERT_TRUE(c->send("verbose\n"));
  EXPECT_TRUE(c->expect("Trace refused: Trace is for admins\nportal:/> ")) << c->all();
}

TEST_F(CliModuleTest, SetWritesTheRestOfTheLineRelativeToTheCurrentPath) {
  stub_.on_send("/hello/*", [](const Message &m) {
    if (m.method != Method::set) return respond(200, "Hello from " + m.path + "\n");
    if (m.path == "/hello/locked") return respond(status::forbidden, "Forbidden\n");
    if (m.path == "/hello/echo") return respond(200, "stored [" + m.body + "]\n");
    return respond(status::created);
  });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("cd /hello\nset greeting  Hello,   world \n"));
  EXPECT_TRUE(c->expect("OK (status 201)\nportal:/hello> ")) << c->all();
  std::optional<Message> m = last_sent("/hello/greeting");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->method, Method::set);
  EXPECT_EQ(m->body, "Hello,   world ") << "the value is the rest of the line as typed";
  EXPECT_EQ(m->ctx.credentials.peer_uid, static_cast<std::int64_t>(::getuid())) << "runs as the client";
  ASSERT_TRUE(c->send("set /hello/echo 42\n"));
  EXPECT_TRUE(c->expect("stored [42]\nportal:/hello> ")) << c->all();
  ASSERT_TRUE(c->send("set locked x\n"));
  EXPECT_TRUE(c->expect("Forbidden\n(status 403)\nportal:/hello> ")) << c->all();
  ASSERT_TRUE(c->send("set greeting\n"));
  EXPECT_TRUE(c->expect("Usage: set <path> <value>")) << c->all();
  ASSERT_TRUE(c->send("se\t/hello/echo x\n"));
  EXPECT_TRUE(c->expect("stored [x]\n")) << "Tab knows the command: " << c->all();
}

// A peer "factory" behind the node module: its /core/ls and /core/resolve
// answer like a router whose only module is iot.
void serve_factory(testing::StubRouter &stub) {
  stub.on_send("/node/factory/core/ls", [](const Message &m) {
    const std::string prefix = m.header_or("prefix", "?");
    if (prefix == "/") return respond(200, "  core                          /\n  iot                           /\n");
    if (prefix == "/iot") return respond(200, "  devices                        [iot]\n  discover                       [iot]\n");
    return respond(200, "  (empty)\n");
  });
  stub.on_send("/node/factory/core/resolve", [](const Message &m) {
    const std::string target = m.header_or("target", "");
    if (target == "/" || target == "/iot") return respond(200, target + std::string(1, '\0'));
    return respond(status::not_found);
  });
  stub.on_send("/core/resolve", [](const Message &m) {
    const std::string target = m.header_or("target", "");
    if (target == "/" || target == "/node") return respond(200, target);
    return respond(status::not_found);
  });
  stub.on_send("/node/resources/peers", [](const Message &) {
    return respond(200, "Connected peers:\n  factory          10.0.0.2:9700      [ready] outbound workers:0/4\n");
  });
  stub.on_send("/core/ls", [](const Message &m) {
    if (m.header_or("prefix", "") == "/node") return respond(200, "  resources                     /\n");
    return respond(200, "  local listing of " + m.header_or("prefix", "?") + "\n");
  });
}

TEST_F(CliModuleTest, LsAndCdReachAPeerThroughTheNodeModule) {
  serve_factory(stub_);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("ls /node/factory/iot\n"));
  EXPECT_TRUE(c->expect("ls /node/factory/iot\n  devices                        [iot]\n  discover                       [iot]\n"
                        "portal:/> "))
      << c->all();
  std::optional<Message> m = last_sent("/node/factory/core/ls");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header_or("prefix", ""), "/iot") << "the peer's own path";
  EXPECT_EQ(m->ctx.credentials.peer_uid, static_cast<std::int64_t>(::getuid()));

  ASSERT_TRUE(c->send("cd /node/factory/iot\n"));
  ASSERT_TRUE(c->expect("portal:/node/factory/iot> ")) << c->all();
  m = last_sent("/node/factory/core/resolve");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->header_or("target", ""), "/iot");
  ASSERT_TRUE(c->send("ls\n"));
  EXPECT_TRUE(c->expect("  devices                        [iot]\n")) << c->all();
  ASSERT_TRUE(c->send("cd nowhere\n"));
  EXPECT_TRUE(c->expect("No such path\nportal:/node/factory/iot> ")) << c->all();
  ASSERT_TRUE(c->send("cd ..\n"));
  ASSERT_TRUE(c->expect("portal:/node/factory> ")) << c->all();
  ASSERT_TRUE(c->send("ls\n"));
  EXPECT_TRUE(c->expect("  core                          /\n  iot                           /\n")) << c->all();
  EXPECT_EQ(last_sent("/node/factory/core/ls")->header_or("prefix", ""), "/");

  ASSERT_TRUE(c->send("cd ..\nls\n"));
  EXPECT_TRUE(c->expect("portal:/node> ls\n  factory                       /\n  resources                     /\nportal:/node> "))
      << "the peers join the local listing of /node: " << c->all();
}

TEST_F(CliModuleTest, TabCompletesPeersAndTheirPaths) {
  serve_factory(stub_);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("ls /node/f\t"));
  EXPECT_TRUE(c->expect("\rportal:/> ls /node/factory/")) << c->all();
  ASSERT_TRUE(c->send("i\t"));
  EXPECT_TRUE(c->expect("\rportal:/> ls /node/factory/iot/")) << c->all();
  ASSERT_TRUE(c->send("d\t"));
  EXPECT_TRUE(c->expect("\ndevices  discover  \nportal:/> ls /node/factory/iot/d")) << c->all();
  ASSERT_TRUE(c->send("e\t\n"));
  EXPECT_TRUE(c->expect("ls /node/factory/iot/devices \x1b[K\n  (empty)\n")) << c->all();
}

TEST_F(CliModuleTest, WithoutTheNodeModuleNodePathsAreLocal) {
  stub_.on_send("/core/ls", [](const Message &m) {
    return respond(200, "  local listing of " + m.header_or("prefix", "?") + "\n");
  });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();  // nothing answers /node/*: the stub says 404 as the router would
  ASSERT_TRUE(c->send("ls /node/factory/iot\n"));
  EXPECT_TRUE(c->expect("  local listing of /node/factory/iot\nportal:/> ")) << c->all();
  ASSERT_TRUE(c->send("ls /node\n"));
  EXPECT_TRUE(c->expect("  local listing of /node\nportal:/> ")) << c->all();
  ASSERT_TRUE(c->send("cd /node/factory\n"));
  EXPECT_TRUE(c->expect("No such path\nportal:/> ")) << c->all();
  EXPECT_EQ(last_sent("/core/resolve")->header_or("target", ""), "/node/factory");

  stub_.on_send("/node/*", [](const Message &) { return respond(status::unavailable); });
  ASSERT_TRUE(c->send("ls /node/factory\n"));
  EXPECT_TRUE(c->expect("  local listing of /node/factory\nportal:/> ")) << "503 too: " << c->all();
}

constexpr std::string_view kEnterScreen = "\x1b[?1049h\x1b[?25l";
constexpr std::string_view kLeaveScreen = "\x1b[?25h\x1b[?1049l";

// /core/modules?format=json with `n` modules; the first one is this test's own
// process, so that its CPU and RSS come from /proc. `msgs` changes per refresh.
std::string modules_json(int n, int msgs) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "mod%02d", i);
    out += std::string(i ? "," : "") + R"({"name":")" + name + R"(","state":"running","pid":)" +
           std::to_string(i == 0 ? ::getpid() : 0) + R"(,"restarts":1,"uptime_s":5,"msgs":)" +
           std::to_string(msgs) + R"(,"in_flight":0,"ready":true})";
  }
  return out + "]\n";
}

class TopTest : public CliModuleTest {
 protected:
  void serve_modules(int n) {
    stub_.on_send("/core/modules", [this, n](const Message &m) {
      if (m.header_or("format", "") != "json") return respond(200, "Loaded modules:\n");
      return respond(200, modules_json(n, ++refreshes_));
    });
    stub_.on_send("/core/status", [](const Message &) {
      return respond(200, "Portal v2.0.0\nStatus: running\nModules loaded: 3\n");
    });
  }
  // Starts top and waits for its first screen.
  std::unique_ptr<Client> top(const std::string &winsize = "") {
    auto c = connect();
    EXPECT_TRUE(c->send(winsize + "top\n"));
    EXPECT_TRUE(c->expect(kEnterScreen)) << c->all();
    EXPECT_TRUE(c->expect("Portal top - Portal v2.0.0 | Status: running")) << c->all();
    return c;
  }
  bool wait_until(const std::function<bool()> &done) {
    while (!done())
      if (!pump()) return false;
    return true;
  }
  int refreshes_ = 0;
};

TEST_F(TopTest, ShowsTheModuleWorkersEverySecondUntilQ) {
  serve_modules(3);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = top();
  ASSERT_TRUE(c->expect("MODULE         STATE          PID RESTARTS UPTIME      MSGS  INFL  CPU%     RSS")) << c->all();
  const std::string pid = std::to_string(::getpid());
  ASSERT_TRUE(c->expect("mod00          running    " + std::string(7 - pid.size(), ' ') + pid +
                        "        1     5s         1     0     -"))
      << c->all();
  EXPECT_TRUE(c->expect("M\x1b[K\r\nmod01          running          -        1      -         1     0     -       -"))
      << "RSS read from /proc for a known pid; a worker without one shows dashes: " << c->all();
  EXPECT_TRUE(c->expect("modules 1-3 of 3\x1b[K\x1b[J")) << c->all();
  EXPECT_EQ(stub_.timer_count(), 1u);

  stub_.advance(std::chrono::seconds(1));
  EXPECT_TRUE(c->expect("\x1b[HPortal top")) << "redrawn a second later";
  EXPECT_TRUE(c->expect("        1     5s         2     0")) << c->all();
  ASSERT_TRUE(c->send("x \r\n\x1b[C\x04?"));  // keys top does not know
  stub_.advance(std::chrono::seconds(1));
  EXPECT_TRUE(c->expect("        1     5s         3     0")) << c->all();
  EXPECT_EQ(c->unread().find(kLeaveScreen), std::string::npos) << "other keys are ignored";

  ASSERT_TRUE(c->send("q"));
  EXPECT_TRUE(c->expect(std::string(kLeaveScreen) + "portal:/> ")) << c->all();
  EXPECT_EQ(stub_.timer_count(), 0u) << "the refreshes end with the view";
  ASSERT_TRUE(c->send("version\n"));
  EXPECT_TRUE(c->expect("version\nPortal v2.0.0\nportal:/> ")) << "the line editor has the keys again";
}

TEST_F(TopTest, ArrowsScrollAndTheScreenFitsTheClientsTerminal) {
  serve_modules(20);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = top("__winsize 10 60\n");  // 6 rows of the table
  ASSERT_TRUE(c->expect("modules 1-6 of 20\x1b[K\x1b[J")) << c->all();
  EXPECT_EQ(c->all().find("mod06"), std::string::npos);
  const std::string screen = c->all().substr(c->all().find(kEnterScreen) + kEnterScreen.size());
  std::size_t widest = 0;  // from each line's start ("\x1b[H" or "\r\n") to its "\x1b[K"
  for (std::size_t at = 0, end; (end = screen.find("\x1b[K", at)) != std::string::npos; at = end + 3) {
    std::size_t start = screen.rfind('\n', end);
    start = start == std::string::npos ? 0 : start + 1;
    if (screen.compare(start, 3, "\x1b[H") == 0) start += 3;
    widest = std::max(widest, end - start);
  }
  EXPECT_EQ(widest, 59u) << "lines are cut to the terminal's width";

  ASSERT_TRUE(c->send("\x1b[B"));
  EXPECT_TRUE(c->expect("\r\nmod01 ")) << c->all();
  EXPECT_TRUE(c->expect("modules 2-7 of 20")) << c->all();
  ASSERT_TRUE(c->send("\x1b[6~"));
  EXPECT_TRUE(c->expect("modules 8-13 of 20")) << c->all();
  ASSERT_TRUE(c->send("\x1b[F"));
  EXPECT_TRUE(c->expect("modules 15-20 of 20")) << c->all();
  ASSERT_TRUE(c->send("\x1b[B"));
  EXPECT_TRUE(c->expect("modules 15-20 of 20")) << "not past the end: " << c->all();
  ASSERT_TRUE(c->send("\x1b[A\x1b[A"));
  EXPECT_TRUE(c->expect("modules 13-18 of 20")) << c->all();
  ASSERT_TRUE(c->send("__winsize 24 80\n"));  // the client's terminal grew
  EXPECT_TRUE(c->expect("modules 1-20 of 20")) << c->all();
  ASSERT_TRUE(c->send("\x1b"));
  EXPECT_TRUE(c->expect(std::string(kLeaveScreen) + "portal:/> ")) << "ESC leaves: " << c->all();
}

TEST_F(TopTest, CtrlCLeavesAndWhatFollowsRunsAsCommands) {
  serve_modules(1);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("top\n\x03version\n"));  // typed before the first screen came
  EXPECT_TRUE(c->expect(kEnterScreen)) << c->all();
  EXPECT_TRUE(c->expect(std::string(kLeaveScreen) + "portal:/> version\nPortal v2.0.0\n")) << c->all();
  EXPECT_EQ(stub_.timer_count(), 0u);
}

TEST_F(TopTest, RefusedModuleListIsPrintedAndTopEnds) {
  stub_.on_send("/core/modules", [](const Message &) { return respond(status::forbidden, "Forbidden\n"); });
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("top\n"));
  EXPECT_TRUE(c->expect("top\nForbidden\n(status 403)\nportal:/> ")) << c->all();
  EXPECT_EQ(c->all().find(kEnterScreen), std::string::npos) << "the screen is left alone";
  EXPECT_EQ(stub_.timer_count(), 0u);
  std::optional<Message> m = last_sent("/core/modules");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->ctx.credentials.peer_uid, static_cast<std::int64_t>(::getuid())) << "asked as the client";
}

TEST_F(TopTest, DisconnectDuringTopStopsIt) {
  serve_modules(2);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  {
    auto c = top();
    ASSERT_EQ(stub_.timer_count(), 1u);
  }
  ASSERT_TRUE(wait_until([&] { return stub_.timer_count() == 0; })) << "the session ended its refreshes";
  ASSERT_TRUE(wait_until([&] { return stub_.request(Method::get, "/cli/resources/status").body.ends_with("0\n"); }));
  const int before = refreshes_;
  stub_.advance(std::chrono::seconds(3));
  for (int i = 0; i < 20; ++i) pump();
  EXPECT_EQ(refreshes_, before);
  auto d = connect();
  ASSERT_TRUE(d->send("version\n"));
  EXPECT_TRUE(d->expect("Portal v2.0.0\n"));
}

TEST_F(TopTest, HostileInputWhileTopRuns) {
  serve_modules(2);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = top();
  std::string junk;
  for (int i = 0; i < 2000; ++i) junk += "\x1b[1;" + std::string(40, '9') + "zz\x04\x7f\r\n__winsize 0 0\n" + "\x1b[C";
  junk += "__winsize " + std::string(100, '9') + "\n";
  ASSERT_TRUE(c->send(junk));
  stub_.advance(std::chrono::seconds(1));
  EXPECT_TRUE(c->expect("         2     0")) << "still refreshing";
  EXPECT_EQ(c->unread().find(kLeaveScreen), std::string::npos);
  EXPECT_EQ(c->all().find("Unknown command"), std::string::npos) << "nothing reached the line editor";
  ASSERT_TRUE(c->send("\x1b["));  // cut short: waits for the rest
  ASSERT_TRUE(c->send("Bq" + std::string(64 * 1024, 'x') + "\nversion\n"));
  EXPECT_TRUE(c->expect(kLeaveScreen)) << c->all().substr(c->all().size() - 300);
  EXPECT_TRUE(c->expect("Unknown command: xxx")) << "the long line after top is an ordinary line";
  EXPECT_TRUE(c->expect("Portal v2.0.0\n"));
}

TEST_F(TopTest, LiveEventsWaitUntilTopEnds) {
  serve_modules(1);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  ASSERT_TRUE(c->send("subscribe /events/x/*\n"));
  ASSERT_TRUE(c->expect("Subscribed to /events/x/*\nportal:/> "));
  ASSERT_TRUE(c->send("top\n"));
  ASSERT_TRUE(c->expect("modules 1-1 of 1")) << c->all();
  EXPECT_EQ(stub_.deliver_event("/events/x/ping", "during top"), 1u);
  stub_.advance(std::chrono::seconds(1));
  ASSERT_TRUE(c->expect("modules 1-1 of 1"));
  EXPECT_EQ(c->unread().find("[EVENT]"), std::string::npos);
  EXPECT_EQ(c->all().find("[EVENT]"), std::string::npos) << "not drawn over the view";
  ASSERT_TRUE(c->send("q"));
  EXPECT_TRUE(c->expect(std::string(kLeaveScreen) + "[EVENT] /events/x/ping: during top\nportal:/> ")) << c->all();
}

TEST_F(CliModuleTest, MaxClientsRefusesTheExtraOne) {
  stub_.set_config("max_clients", "1");
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto first = connect();
  Client second(socket_, [this] { return pump(); });
  EXPECT_TRUE(second.expect("Too many CLI clients"));
  EXPECT_TRUE(second.closed_by_server());
  ASSERT_TRUE(first->send("version\n"));
  EXPECT_TRUE(first->expect("Portal v2.0.0\n"));
}

TEST_F(CliModuleTest, IdleSessionsAreClosed) {
  stub_.set_config("idle_timeout_ms", "50");
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  auto c = connect();
  EXPECT_TRUE(c->expect("Idle timeout.\n"));
  EXPECT_TRUE(c->closed_by_server());
}

TEST_F(CliModuleTest, BadSettingsAreFatal) {
  for (auto [key, value] : {std::pair{"mode", "0999"}, {"max_clients", "0"}, {"idle_timeout_ms", "soon"}}) {
    testing::StubRouter other;
    other.set_config("socket", socket_);
    other.set_config(key, value);
    Status st = other.load_library(MOD_CLI_PATH);
    ASSERT_FALSE(st) << key;
    EXPECT_EQ(st.error().code, kFatalConfig);
    EXPECT_NE(st.error().message.find(key), std::string::npos) << st.error().message;
  }
}

TEST_F(CliModuleTest, StaleSocketReplacedOtherFilesKept) {
  { std::ofstream(socket_) << "not a socket"; }
  Status st = stub_.load_library(MOD_CLI_PATH);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  fs::remove(socket_);
  ASSERT_TRUE(stub_.load_library(MOD_CLI_PATH));
  struct stat sb {};
  ASSERT_EQ(::stat(socket_.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0660u);
}

TEST_F(CliModuleTest, MissingSocketIsAFatalConfigError) {
  testing::StubRouter other;
  Status st = other.load_library(MOD_CLI_PATH);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  EXPECT_NE(st.error().message.find("socket"), std::string::npos);
}

}  // namespace
}  // namespace portal::cli::test

// portald --demo DIR: the pieces (demo.h) against the real config/demo.conf, then the built
// portald running the demo instance for real (router, workers, ctl socket) in a temporary
// folder, with HOME, TMPDIR and the working directory pointed at folders that must stay empty.
#include "supervisor/demo.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "ctl_client.h"
#include "portald_harness.h"

namespace portal::supervisor {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string source_root() {
  const char* r = std::getenv("PORTAL_SOURCE_ROOT");
  return r ? r : "";
}

unsigned mode_of(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

// Every file and folder below `dir`, relative to it.
std::set<std::string> tree(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    out.insert(fs::relative(it->path(), dir).string());
  return out;
}

TEST(Demo, ExpandReplacesEveryToken) {
  EXPECT_EQ(expand_demo_config("a = @DIR@/x\nb = @DIR@@DIR@\n@DIR", "/d"), "a = /d/x\nb = /d/d\n@DIR");
  EXPECT_EQ(expand_demo_config("", "/d"), "");
  EXPECT_EQ(expand_demo_config("no token", "/d"), "no token");
  // A folder whose name holds the token is pasted once, not expanded again.
  EXPECT_EQ(expand_demo_config("@DIR@/x", "/a@DIR@b"), "/a@DIR@b/x");
}

TEST(Demo, PrepareCreatesThePrivateFolder) {
  TempDir t;
  auto dir = prepare_demo_dir(t / "a/b/demo/", true);
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  EXPECT_EQ(*dir, t / "a/b/demo");
  EXPECT_TRUE(fs::is_directory(*dir));
  EXPECT_EQ(mode_of(*dir), 0700u);
  // An existing folder is used as it is.
  ::chmod(dir->c_str(), 0750);
  ASSERT_TRUE(prepare_demo_dir(*dir, true).ok());
  EXPECT_EQ(mode_of(*dir), 0750u);
}

TEST(Demo, PrepareWithoutCreateTouchesNothing) {
  TempDir t;
  auto dir = prepare_demo_dir(t / "x/../nope", false);
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(*dir, t / "nope");
  EXPECT_FALSE(fs::exists(*dir));
}

TEST(Demo, PrepareRefusesBadFolders) {
  TempDir t;
  t.write("file", "x");
  EXPECT_FALSE(prepare_demo_dir(t / "file", true).ok());
  EXPECT_FALSE(prepare_demo_dir(t / "file/sub", true).ok());
  auto nl = prepare_demo_dir(t / "a\nload = evil", true);
  ASSERT_FALSE(nl.ok());
  EXPECT_NE(nl.error().message.find("control characters"), std::string::npos);
  EXPECT_FALSE(prepare_demo_dir("", true).ok());
}

TEST(Demo, EmbeddedConfigKeepsEverythingInsideDir) {
  if (source_root().empty()) GTEST_SKIP() << "PORTAL_SOURCE_ROOT not set";
  std::string text = read_text(source_root() + "/config/demo.conf");
  ASSERT_NE(text.find("@DIR@"), std::string::npos);
  TempDir t;
  std::string dir = t / "demo";
  // Libraries are looked for in an empty tree: a missing one is not an error here.
  auto s = load_demo_settings(text, dir, SearchRoots{t / "build", t / "lib", t / "libexec"});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->core.instance, "demo");
  EXPECT_EQ(s->core.config_file, dir + "/demo.conf");
  EXPECT_EQ(s->core.config_dir, dir);
  EXPECT_EQ(s->core.ctl_socket, dir + "/run/ctl.sock");
  EXPECT_FALSE(s->core.config_text.empty());
  std::vector<std::string> names;
  for (const auto& m : s->modules) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"ctl", "hello", "myapp"}));
  // Every path the instance is told about lies inside DIR.
  for (const auto& [key, value] : s->flat) {
    if (value.empty() || value[0] != '/') continue;
    EXPECT_EQ(value.rfind(dir + "/", 0), 0u) << key << " = " << value;
  }
  for (const std::string& p : {s->core.data_dir, s->core.log_dir, s->core.run_dir, s->core.socket_path})
    EXPECT_EQ(p.rfind(dir + "/", 0), 0u) << p;
  EXPECT_EQ(tree(t.path()), std::set<std::string>{}) << "loading writes nothing";
  std::string banner = demo_banner(*s, SearchRoots{"/b", "", ""});
  EXPECT_NE(banner.find("/b/tools/portalctl -s " + dir + "/run/ctl.sock get /core/status\n"), std::string::npos)
      << banner;
  EXPECT_NE(demo_banner(*s, SearchRoots{}).find("\nportald: try: portalctl -s "), std::string::npos);
}

TEST(DemoRoot, CreatedOnceWithRandomSecretsAndMode0600) {
  TempDir t;
  std::string data = t / "data";
  auto first = ensure_demo_root(data);
  ASSERT_TRUE(first) << first.error().message;
  std::string file = data + "/users/root.conf";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("api_key = ([0-9a-f]{64})\n"))) << text;
  EXPECT_NE(first->find(m[1].str()), std::string::npos) << "the key is shown once";
  EXPECT_NE(text.find("groups = root,admin\n"), std::string::npos);
  auto second = ensure_demo_root(data);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->find(m[1].str()), std::string::npos) << "and only once";
  EXPECT_NE(second->find(file), std::string::npos);
  TempDir u;
  auto other = ensure_demo_root(u / "data");
  ASSERT_TRUE(other);
  std::ifstream in2(u / "data/users/root.conf");
  std::string text2((std::istreambuf_iterator<char>(in2)), {});
  EXPECT_NE(text, text2) << "secrets are random";
}

// The built portald, run as `portald ARGS` with every place a program might write to by
// default (working directory, HOME, TMPDIR, XDG_RUNTIME_DIR) moved into `outside`.
class DemoRun {
 public:
  DemoRun(const TempDir& t, std::vector<std::string> args) : out_(t / "portald.out") {
    std::string outside = t / "outside";
    for (const char* d : {"cwd", "home", "tmp", "xdg"}) fs::create_directories(outside + "/" + d);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (::chdir((outside + "/cwd").c_str()) != 0) ::_exit(126);
      ::setenv("HOME", (outside + "/home").c_str(), 1);
      ::setenv("TMPDIR", (outside + "/tmp").c_str(), 1);
      ::setenv("XDG_RUNTIME_DIR", (outside + "/xdg").c_str(), 1);
      for (const char* v : {"NOTIFY_SOCKET", "PORTAL_ROUTER_BIN", "PORTAL_WORKER_BIN", "PORTAL_CTL_SOCKET"})
        ::unsetenv(v);
      int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<std::string> argv_s{portald_path()};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~DemoRun() {
    if (pid_ > 0 && !code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  DemoRun(const DemoRun&) = delete;
  DemoRun& operator=(const DemoRun&) = delete;

  void signal(int sig) const { ::kill(pid_, sig); }
  std::string output() const { return read_text(out_); }
  std::optional<int> wait_exit(milliseconds timeout) {
    wait_until(
        [&] {
          int st = 0;
          if (code_ || ::waitpid(pid_, &st, WNOHANG) != pid_) return code_.has_value();
          code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          return true;
        },
        timeout);
    return code_;
  }

 private:
  std::string out_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

class DemoProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    if (build_root().empty()) GTEST_SKIP() << "PORTAL_BUILD_ROOT not set";
  }
  TempDir t;
};

// GET `path` through the ctl socket; the status and body, or the error.
std::pair<int, std::string> ctl_get(const std::string& socket, const std::string& path) {
  auto client = tools::CtlClient::connect(socket);
  if (!client) return {-1, client.error().message};
  auto r = (*client)->request(Method::get, path, {}, {}, {}, milliseconds(5000));
  if (!r) return {-1, r.error().message};
  return {r->status, r->body};
}

TEST_F(DemoProcess, RunsAnswersAndStaysInsideDir) {
  std::string dir = t / "demo";
  std::string socket = dir + "/run/ctl.sock";
  DemoRun p(t, {"--demo", dir});
  ASSERT_TRUE(wait_until([&] { return fs::exists(socket); }, seconds(30))) << p.output();
  EXPECT_EQ(mode_of(dir), 0700u);

  std::pair<int, std::string> status;
  ASSERT_TRUE(wait_until(
      [&] {
        status = ctl_get(socket, "/core/status");
        return status.first == 200;
      },
      seconds(15)))
      << status.second << "\n"
      << p.output();
  EXPECT_NE(status.second.find("Status: running"), std::string::npos) << status.second;
  // The embedded configuration reached the modules.
  std::pair<int, std::string> message;
  EXPECT_TRUE(wait_until(
      [&] {
        message = ctl_get(socket, "/myapp/resources/message");
        return message.first == 200;
      },
      seconds(15)))
      << message.second;
  EXPECT_EQ(message.second, "Hello from the Portal demo\n");

  std::string out = p.output();
  EXPECT_NE(out.find("ctl socket: " + socket + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find(build_root() + "/tools/portalctl -s " + socket + " get /core/status\n"), std::string::npos)
      << out;

  // SIGHUP parses the embedded text again: nothing changed.
  p.signal(SIGHUP);
  EXPECT_TRUE(wait_until([&] { return p.output().find("3 unchanged") != std::string::npos; }, seconds(10)))
      << p.output();
  EXPECT_NE(p.output().find("SIGHUP: reloading the embedded configuration"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("reloaded: added -; removed -; changed -; 3 unchanged"), std::string::npos)
      << p.output();

  p.signal(SIGTERM);
  auto code = p.wait_exit(seconds(20));
  ASSERT_TRUE(code) << "portald did not exit\n" << p.output();
  EXPECT_EQ(*code, 0) << p.output();

  // Nothing outside DIR: the sandbox holds DIR, the untouched decoys and our own capture.
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(t.path())) top.insert(e.path().filename().string());
  EXPECT_EQ(top, (std::set<std::string>{"demo", "outside", "portald.out"}));
  EXPECT_EQ(tree(t / "outside"), (std::set<std::string>{"cwd", "home", "tmp", "xdg"}));
  for (const char* sub : {"data", "log", "run"}) EXPECT_TRUE(fs::is_directory(dir + "/" + sub)) << sub;
  EXPECT_FALSE(fs::exists(dir + "/demo.conf")) << "the embedded configuration is never written";
  EXPECT_FALSE(fs::exists(socket)) << "the ctl module removes its socket on unload";
}

TEST_F(DemoProcess, CheckValidatesWithoutCreatingDir) {
  std::string dir = t / "demo";
  DemoRun p(t, {"--demo", dir, "--check"});
  auto code = p.wait_exit(seconds(20));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << p.output();
  EXPECT_NE(p.output().find(dir + "/demo.conf (embedded): OK (instance demo, 3 modules: ctl, hello, myapp)"),
            std::string::npos)
      << p.output();
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace portal::supervisor

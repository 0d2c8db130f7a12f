// portalctl: argument parsing, socket resolution, table rendering, and whole runs against a
// tiny in-test server.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "cli.h"
#include "commands.h"
#include "module_table.h"
#include "socket_path.h"
#include "tiny_server.h"

namespace portal::tools::test {
namespace {

namespace fs = std::filesystem;

Result<Options> parse(std::vector<std::string_view> args) { return parse_args(args); }

std::string usage_error(std::vector<std::string_view> args) {
  Result<Options> o = parse(args);
  if (o) return "(parsed)";
  EXPECT_EQ(o.error().code, kExitUsage);
  return o.error().message;
}

TEST(PortalctlArgs, GetWithHeaders) {
  Result<Options> o = parse({"get", "/a/b", "k=v", "x=y=z", "empty="});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->command, Command::get);
  EXPECT_EQ(o->path, "/a/b");
  ASSERT_EQ(o->headers.size(), 3u);
  EXPECT_EQ(o->headers[1].key, "x");
  EXPECT_EQ(o->headers[1].value, "y=z");
  EXPECT_EQ(o->headers[2].value, "");
  EXPECT_EQ(command_method(o->command), Method::get);
}

TEST(PortalctlArgs, OptionsAnywhereInEitherForm) {
  Result<Options> o = parse({"-v", "call", "/x", "--timeout=500", "-s/tmp/s.sock", "a=1", "--body", "B"});
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->command, Command::call);
  EXPECT_TRUE(o->verbose);
  EXPECT_EQ(o->timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(o->socket_path, "/tmp/s.sock");
  EXPECT_EQ(o->body, "B");
  ASSERT_EQ(o->headers.size(), 1u);
  EXPECT_EQ(command_method(o->command), Method::call);

  o = parse({"set", "/x", "--", "-k=1", "--body=2"});
  ASSERT_TRUE(o) << o.error().message;
  ASSERT_EQ(o->headers.size(), 2u);
  EXPECT_EQ(o->headers[0].key, "-k");
  EXPECT_EQ(o->headers[1].key, "--body");
  EXPECT_FALSE(o->body);
}

TEST(PortalctlArgs, Credentials) {
  Result<Options> o = parse({"--api-key", "K", "--token", "T", "--user", "u", "--password", "p", "get", "/x"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->credentials.api_key, "K");
  EXPECT_EQ(o->credentials.token, "T");
  EXPECT_EQ(o->credentials.username, "u");
  EXPECT_EQ(o->credentials.password, "p");
}

TEST(PortalctlArgs, ModuleCommands) {
  Result<Options> o = parse({"module", "list", "--json"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->command, Command::module_list);
  EXPECT_TRUE(o->json);
  o = parse({"module", "restart", "hello"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->command, Command::module_action);
  EXPECT_EQ(o->module, "hello");
  EXPECT_EQ(o->action, "restart");
  for (std::string_view verb : {"stop", "start"}) {
    o = parse({"module", verb, "web"});
    ASSERT_TRUE(o);
    EXPECT_EQ(o->action, verb);
  }
}

TEST(PortalctlArgs, HelpAndVersionWinOverEverythingAfter) {
  EXPECT_EQ(parse({"--help", "bogus"})->command, Command::help);
  EXPECT_EQ(parse({"bogus", "-h"})->command, Command::help);
  EXPECT_EQ(parse({"--version"})->command, Command::version);
  EXPECT_EQ(version_text(), "portalctl (Portal) 2.0.0\n");
  std::string help = help_text();
  for (const char* s : {"get PATH", "set PATH", "call PATH", "module list", "module restart NAME", "--socket",
                        "--config", "--timeout MS", "--body-file", "--api-key", "Exit status"})
    EXPECT_NE(help.find(s), std::string::npos) << s;
}

TEST(PortalctlArgs, UsageErrorsAreOneLine) {
  std::map<std::vector<std::string_view>, std::string> cases = {
      {{}, "no command given"},
      {{"frob"}, "unknown command 'frob'"},
      {{"get"}, "'get' needs a PATH"},
      {{"get", "a/b"}, "PATH must start with '/': 'a/b'"},
      {{"get", "/a", "novalue"}, "expected key=value, got 'novalue'"},
      {{"get", "/a", "=v"}, "expected key=value, got '=v'"},
      {{"--frob", "get", "/a"}, "unknown option '--frob'"},
      {{"get", "/a", "-x"}, "unknown option '-x'"},
      {{"get", "/a", "--timeout"}, "option --timeout needs a value (MS)"},
      {{"get", "/a", "--timeout", "0"}, "invalid --timeout '0': expected milliseconds, more than 0"},
      {{"get", "/a", "--timeout", "1s"}, "invalid --timeout '1s': expected milliseconds, more than 0"},
      {{"get", "/a", "--verbose=yes"}, "option --verbose takes no value"},
      {{"-c", "x.conf", "-s", "x.sock", "get", "/a"}, "use either -c CONFIG or -s SOCKET, not both"},
      {{"get", "/a", "--body", "x", "--body-file", "f"}, "use either --body or --body-file, not both"},
      {{"get", "/a", "--user", "u"}, "--user and --password go together"},
      {{"get", "/a", "--json"}, "--json goes with 'module list'"},
      {{"module"}, "'module' needs list, restart, stop or start"},
      {{"module", "frob"}, "unknown module command 'frob'"},
      {{"module", "restart"}, "'module restart' needs a module NAME"},
      {{"module", "restart", "a/b"}, "invalid module name 'a/b'"},
      {{"module", "list", "extra"}, "unexpected argument 'extra'"},
      {{"module", "stop", "web", "now"}, "unexpected argument 'now'"},
      {{"module", "list", "--body", "x"}, "--body and --body-file go with get, set and call"},
  };
  for (const auto& [args, message] : cases) {
    EXPECT_EQ(usage_error(args), message);
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(PortalctlRequest, ModuleCommandsMapToCorePaths) {
  Result<CtlRequest> r = build_request(*parse({"module", "list"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, Method::get);
  EXPECT_EQ(r->path, "/core/modules");
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0].key, "format");
  EXPECT_EQ(r->headers[0].value, "json");
  r = build_request(*parse({"module", "stop", "hello"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, Method::call);
  EXPECT_EQ(r->path, "/core/modules/hello");
  EXPECT_EQ(r->headers[0].key, "action");
  EXPECT_EQ(r->headers[0].value, "stop");
}

TEST(PortalctlRequest, BodyFromFile) {
  TinyServer scratch([](int) {});  // only for its temporary folder
  std::string file = scratch.dir() + "/body.bin";
  std::ofstream(file, std::ios::binary) << std::string("a\0b", 3);
  Result<CtlRequest> r = build_request(*parse({"set", "/x", "--body-file", file}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, std::string("a\0b", 3));
  r = build_request(*parse({"set", "/x", "--body-file", scratch.dir() + "/missing"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kExitUsage);
}

// --- socket resolution ------------------------------------------------------------------

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional(it->second);
  };
}

TEST(PortalctlSocket, SocketThenConfigThenEnvThenDefault) {
  Options o;
  EXPECT_EQ(*resolve_socket(o, env_of({})), "/run/portal/ctl.sock");
  EXPECT_EQ(*resolve_socket(o, env_of({{"PORTAL_CTL_SOCKET", "/e.sock"}})), "/e.sock");
  o.socket_path = "/s.sock";
  EXPECT_EQ(*resolve_socket(o, env_of({{"PORTAL_CTL_SOCKET", "/e.sock"}})), "/s.sock");
}

class PortalctlConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portalctl-conf-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    fs::create_directories(fs::path(dir_ + "/" + name).parent_path());
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  std::string dir_;
};

TEST_F(PortalctlConfig, ModCtlSocketRelativeToTheConfig) {
  std::string conf = write("portal.conf", "[core]\nctl_socket = /core.sock\n[mod_ctl]\nsocket = run/ctl.sock\n");
  Result<std::string> s = socket_from_config(conf);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*s, dir_ + "/run/ctl.sock");
}

TEST_F(PortalctlConfig, CoreCtlSocketAsFallback) {
  std::string conf = write("portal.conf", "[core]\nctl_socket = /core.sock\n");
  EXPECT_EQ(*socket_from_config(conf), "/core.sock");
  Options o;
  o.config_path = conf;
  EXPECT_EQ(*resolve_socket(o, env_of({{"PORTAL_CTL_SOCKET", "/e.sock"}})), "/core.sock");
}

TEST_F(PortalctlConfig, PerModuleFileOfTheDataDir) {
  std::string conf = write("portal.conf", "[core]\ndata_dir = .\n[mod_ctl]\nsocket = /main.sock\n");
  write("modules/mod_ctl.conf", "socket = /from-module-file.sock\n");
  EXPECT_EQ(*socket_from_config(conf), "/from-module-file.sock");
}

TEST_F(PortalctlConfig, NoSocketOrNoFileIsAnError) {
  std::string conf = write("portal.conf", "[core]\nlog_level = info\n");
  Result<std::string> s = socket_from_config(conf);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, kExitUsage);
  EXPECT_NE(s.error().message.find("no control socket"), std::string::npos);
  EXPECT_FALSE(socket_from_config(dir_ + "/missing.conf"));
}

// --- module table -----------------------------------------------------------------------

TEST(PortalctlTable, RendersTheModuleList) {
  const char* json = R"([
    {"name":"hello","version":"1.0.0","description":"d","state":"running","pid":4242,"restarts":0,
     "uptime_s":3725,"msgs":17,"last_exit":""},
    {"name":"crashy","state":"failed","pid":0,"restarts":6,"uptime_s":0,"msgs":3,"last_exit":"signal 11"},
    {"name":"web","state":"starting"}
  ])";
  Result<std::string> t = render_module_table(json);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(*t,
            "NAME    STATE     PID   RESTARTS  UPTIME  MSGS\n"
            "hello   running   4242  0         1h 2m   17\n"
            "crashy  failed    -     6         -       3\n"
            "web     starting  -     -         -       -\n");
}

TEST(PortalctlTable, EmptyListIsJustTheHeader) {
  EXPECT_EQ(*render_module_table("[]"), "NAME  STATE  PID  RESTARTS  UPTIME  MSGS\n");
}

TEST(PortalctlTable, ControlCharactersAreReplaced) {
  Result<std::string> t = render_module_table(R"([{"name":"a\u001b[31mb\nc","state":"running"}])");
  ASSERT_TRUE(t);
  EXPECT_NE(t->find("a?[31mb?c"), std::string::npos);
}

TEST(PortalctlTable, RejectsWhatIsNotAListOfObjects) {
  EXPECT_FALSE(render_module_table("not json"));
  EXPECT_FALSE(render_module_table(R"({"name":"x"})"));
  EXPECT_FALSE(render_module_table("[1,2]"));
}

TEST(PortalctlTable, GenericTableHasNoTrailingBlanks) {
  EXPECT_EQ(render_table({{"A", "BB"}, {"ccc", ""}}), "A    BB\nccc\n");
}

// --- whole runs -------------------------------------------------------------------------

struct Captured {
  int code;
  std::string out, err;
};

Captured run_args(std::vector<std::string_view> args) {
  Result<Options> o = parse_args(args);
  EXPECT_TRUE(o) << o.error().message;
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  Captured c{run(*o, env_of({}), out, err), {}, {}};
  for (auto [f, s] : {std::pair{out, &c.out}, {err, &c.err}}) {
    std::rewind(f);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s->append(buf, n);
    std::fclose(f);
  }
  return c;
}

// Answers by path: /ok -> 200 with a binary body, /missing -> 404, /core/modules -> JSON.
void fake_portal(int fd) {
  while (auto m = TinyServer::read_request(fd)) {
    pb::Response r = TinyServer::response(m->id(), 200, std::string("bin\0ary", 7));
    if (m->path() == "/missing") r = TinyServer::response(m->id(), 404, "Not found\n");
    if (m->path() == "/core/modules")
      r = TinyServer::response(m->id(), 200, R"([{"name":"hello","state":"running","pid":1,"restarts":2,"uptime_s":5,"msgs":9}])");
    if (m->path() == "/core/modules/hello") r = TinyServer::response(m->id(), 200, "Module hello: restart\n");
    if (!TinyServer::write_response(fd, r)) return;
  }
}

TEST(PortalctlRun, PrintsTheBodyExactly) {
  TinyServer server(fake_portal);
  Captured c = run_args({"-s", server.path(), "get", "/ok"});
  EXPECT_EQ(c.code, kExitOk);
  EXPECT_EQ(c.out, std::string("bin\0ary", 7));
  EXPECT_EQ(c.err, "");
  c = run_args({"-s", server.path(), "-v", "get", "/ok"});
  EXPECT_EQ(c.out, "200\n" + std::string("bin\0ary", 7));
}

TEST(PortalctlRun, NonSuccessExitsOne) {
  TinyServer server(fake_portal);
  Captured c = run_args({"-s", server.path(), "-v", "get", "/missing"});
  EXPECT_EQ(c.code, kExitFailed);
  EXPECT_EQ(c.out, "404\nNot found\n");
}

TEST(PortalctlRun, ModuleListAndAction) {
  TinyServer server(fake_portal);
  Captured c = run_args({"-s", server.path(), "module", "list"});
  EXPECT_EQ(c.code, kExitOk);
  EXPECT_EQ(c.out, "NAME   STATE    PID  RESTARTS  UPTIME  MSGS\nhello  running  1    2         5s      9\n");
  c = run_args({"-s", server.path(), "module", "list", "--json"});
  EXPECT_EQ(c.out.front(), '[');
  c = run_args({"-s", server.path(), "module", "restart", "hello"});
  EXPECT_EQ(c.code, kExitOk);
  EXPECT_EQ(c.out, "Module hello: restart\n");
}

TEST(PortalctlRun, CannotConnectExitsThree) {
  Captured c = run_args({"-s", "/nonexistent/ctl.sock", "get", "/x"});
  EXPECT_EQ(c.code, kExitConnect);
  EXPECT_EQ(c.err, "portalctl: cannot connect to /nonexistent/ctl.sock: No such file or directory\n");
  EXPECT_EQ(c.out, "");
}

}  // namespace
}  // namespace portal::tools::test

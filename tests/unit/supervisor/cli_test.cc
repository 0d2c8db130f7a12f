// portald's command line, run as the built binary.
#include <gtest/gtest.h>

#include "portald_harness.h"

namespace {

struct CliRun {
  int code = -1;
  std::string output;
};

CliRun run_portald(const TempDir& dir, std::vector<std::string> args) {
  std::string out = dir / "cli.out";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
  int st = 0;
  ::waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_text(out)};
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (build_root().empty()) GTEST_SKIP() << "PORTAL_BUILD_ROOT not set";
  }
  TempDir dir;
};

TEST_F(Cli, MalformedConfigNamesFileAndLine) {
  std::string conf = dir.write("portal.conf", "[core]\nlog_level = info\n[modules]\nthis line is wrong\n");
  CliRun r = run_portald(dir, {"-c", conf});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(conf + ":4: expected 'key = value'"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Usage"), std::string::npos) << "no wall of help";
}

TEST_F(Cli, BadValueNamesFileAndLine) {
  std::string conf = dir.write("portal.conf", "[modules]\nload = a\n[mod_a]\nthreads = abc\n");
  CliRun r = run_portald(dir, {"-c", conf});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find(conf + ":4: [mod_a] threads"), std::string::npos) << r.output;
}

TEST_F(Cli, CheckValidatesAndExits) {
  dir.write("mods/mod_a.so", "elf");
  std::string conf = dir.write("portal.conf", "[core]\nmodules_dir = mods\n[modules]\nload = a\n");
  CliRun ok = run_portald(dir, {"-c", conf, "--check"});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("OK"), std::string::npos);
  std::string bad = dir.write("bad.conf", "[core]\nmodules_dir = mods\n[modules]\nload = nosuch\n");
  CliRun r = run_portald(dir, {"-c", bad, "--check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("module 'nosuch': library not found"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(dir / "mods/mod_nosuch.so"), std::string::npos) << r.output;
}

TEST_F(Cli, MissingLibraryStopsStartUp) {
  std::string conf = dir.write("portal.conf", "[core]\nmodules_dir = mods\n[modules]\nload = ghost\n");
  CliRun r = run_portald(dir, {"-c", conf});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("module 'ghost'"), std::string::npos) << r.output;
}

TEST_F(Cli, VersionHelpAndUsageErrors) {
  CliRun v = run_portald(dir, {"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.output, "portald (Portal) 2.0.0\n");
  CliRun h = run_portald(dir, {"--help"});
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.output.find("Usage: portald -c FILE"), std::string::npos);
  CliRun none = run_portald(dir, {});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.output.find("-c FILE"), std::string::npos);
  CliRun unknown = run_portald(dir, {"--frobnicate"});
  EXPECT_NE(unknown.code, 0);
  EXPECT_NE(unknown.output.find("unknown argument '--frobnicate'"), std::string::npos);
  CliRun missing = run_portald(dir, {"-c", dir / "nope.conf"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.output.find("nope.conf"), std::string::npos);
}

TEST_F(Cli, DemoIsInTheHelp) {
  CliRun h = run_portald(dir, {"--help"});
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.output.find("portald --demo DIR"), std::string::npos) << h.output;
  EXPECT_NE(h.output.find("      --demo DIR "), std::string::npos) << h.output;
}

TEST_F(Cli, DemoAndConfigAreMutuallyExclusive) {
  std::string conf = dir.write("portal.conf", "[core]\n");
  for (auto args : {std::vector<std::string>{"--demo", dir / "demo", "-c", conf},
                    std::vector<std::string>{"-c", conf, "--demo", dir / "demo"},
                    std::vector<std::string>{"--config=" + conf, "--demo=" + (dir / "demo")},
                    std::vector<std::string>{"-c", "", "--demo", dir / "demo"}}) {
    CliRun r = run_portald(dir, args);
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_NE(r.output.find("use either -c FILE or --demo DIR, not both"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("Usage"), std::string::npos) << "no wall of help";
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "demo")) << "a usage error creates nothing";
}

TEST_F(Cli, DemoNeedsAFolder) {
  CliRun r = run_portald(dir, {"--demo"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--demo needs a folder"), std::string::npos) << r.output;
  CliRun empty = run_portald(dir, {"--demo="});
  EXPECT_EQ(empty.code, 2);
  CliRun nl = run_portald(dir, {"--demo", dir / "a\nb"});
  EXPECT_EQ(nl.code, 2);
  EXPECT_NE(nl.output.find("control characters"), std::string::npos) << nl.output;
  dir.write("file", "x");
  CliRun file = run_portald(dir, {"--demo", dir / "file"});
  EXPECT_EQ(file.code, 1);
  EXPECT_NE(file.output.find("is not a directory"), std::string::npos) << file.output;
}

}  // namespace

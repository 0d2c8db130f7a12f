// modsdk/common logging. The output format is chosen once per process (journal or not), so
// every case runs in a forked child whose stderr is a pipe read back here; this process
// itself never logs.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <regex>
#include <string>

#include "common/log.h"

namespace portal::log {
namespace {

enum class Sink { plain, journal };

// Runs `body` in a child with stderr redirected into a pipe; returns what it wrote.
std::string capture(Sink sink, const std::function<void()>& body) {
  int p[2];
  if (::pipe(p) != 0) return "pipe failed";
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], STDERR_FILENO);
    ::close(p[0]);
    ::close(p[1]);
    if (sink == Sink::journal) {
      struct stat st;
      ::fstat(STDERR_FILENO, &st);
      std::string js = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
      ::setenv("JOURNAL_STREAM", js.c_str(), 1);
    } else {
      ::unsetenv("JOURNAL_STREAM");
    }
    body();
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

int count(const std::string& s, char c) { return static_cast<int>(std::count(s.begin(), s.end(), c)); }

TEST(Log, PlainLineFormat) {
  std::string out = capture(Sink::plain, [] { info("core", "hello world"); });
  std::regex line(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[INFO \] \[core        \] hello world\n)");
  EXPECT_TRUE(std::regex_match(out, line)) << out;
}

TEST(Log, LevelNamesInPlainLines) {
  std::string out = capture(Sink::plain, [] {
    set_level(LogLevel::trace);
    error("t", "e");
    warn("t", "w");
    debug("t", "d");
    write(LogLevel::trace, "t", "x");
  });
  EXPECT_NE(out.find("[ERROR] [t           ] e\n"), std::string::npos) << out;
  EXPECT_NE(out.find("[WARN ] [t           ] w\n"), std::string::npos) << out;
  EXPECT_NE(out.find("[DEBUG] [t           ] d\n"), std::string::npos) << out;
  EXPECT_NE(out.find("[TRACE] [t           ] x\n"), std::string::npos) << out;
}

TEST(Log, NewlinesInTheTextCannotForgeALine) {
  std::string out = capture(Sink::plain, [] { info("mod.web", "GET /x\n2024-01-01 00:00:00.000 [ERROR] fake\rend"); });
  EXPECT_EQ(count(out, '\n'), 1) << out;
  EXPECT_EQ(count(out, '\r'), 0) << out;
  EXPECT_NE(out.find("GET /x 2024-01-01 00:00:00.000 [ERROR] fake end\n"), std::string::npos) << out;
}

TEST(Log, JournalLinesCarryThePriorityAndNoTimestamp) {
  std::string out = capture(Sink::journal, [] {
    set_level(LogLevel::trace);
    error("core", "e");
    warn("core", "w");
    info("core", "i");
    debug("core", "d");
    write(LogLevel::trace, "core", "t");
  });
  EXPECT_EQ(out,
            "<3>[core        ] e\n"
            "<4>[core        ] w\n"
            "<6>[core        ] i\n"
            "<7>[core        ] d\n"
            "<7>[core        ] t\n");
}

TEST(Log, JournalLineSanitizedToo) {
  std::string out = capture(Sink::journal, [] { info("core", "a\n<3>forged"); });
  EXPECT_EQ(out, "<6>[core        ] a <3>forged\n");
}

TEST(Log, TopicAndTerminalControlBytesCannotForgeOrRewriteLines) {
  std::string out = capture(Sink::journal, [] { info("mod.x\n<3>[core", "esc\x1b[2Jend\x07"); });
  EXPECT_EQ(out, "<6>[mod.x <3>[core] esc?[2Jend?\n");
}

TEST(Log, LevelFilter) {
  std::string out = capture(Sink::journal, [] {
    set_level(LogLevel::warn);
    info("core", "dropped");
    debug("core", "dropped");
    warn("core", "kept");
    error("core", "kept too");
  });
  EXPECT_EQ(out, "<4>[core        ] kept\n<3>[core        ] kept too\n");
}

TEST(Log, LongTopicIsCut) {
  std::string out = capture(Sink::journal, [] { info(std::string(100, 't'), "x"); });
  EXPECT_EQ(out, "<6>[" + std::string(64, 't') + "] x\n");
}

TEST(Log, ParseLevelAndEnabled) {
  LogLevel l = LogLevel::info;
  EXPECT_TRUE(parse_level("error", l));
  EXPECT_EQ(l, LogLevel::error);
  EXPECT_TRUE(parse_level("warning", l));
  EXPECT_EQ(l, LogLevel::warn);
  EXPECT_TRUE(parse_level("trace", l));
  EXPECT_EQ(l, LogLevel::trace);
  EXPECT_FALSE(parse_level("verbose", l));
  EXPECT_FALSE(parse_level("INFO", l));
  EXPECT_EQ(l, LogLevel::trace);  // unchanged on failure

  LogLevel saved = level();
  set_level(LogLevel::info);
  EXPECT_TRUE(enabled(LogLevel::error));
  EXPECT_TRUE(enabled(LogLevel::info));
  EXPECT_FALSE(enabled(LogLevel::debug));
  set_level(saved);
}

}  // namespace
}  // namespace portal::log

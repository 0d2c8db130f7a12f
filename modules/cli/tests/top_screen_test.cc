// What `top` shows: the router's module list, /proc figures, the drawn screen
// and the keys.
#include "top_screen.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace portal::cli {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> screen_lines(const std::string &screen) {
  std::vector<std::string> lines;
  std::string body = screen;
  EXPECT_TRUE(body.starts_with("\x1b[H")) << "drawn from the top-left corner";
  EXPECT_TRUE(body.ends_with("\x1b[J")) << "what is below is cleared";
  body = body.substr(3, body.size() - 6);
  std::size_t at = 0;
  for (;;) {
    std::size_t end = body.find("\r\n", at);
    std::string line = body.substr(at, end == std::string::npos ? end : end - at);
    EXPECT_TRUE(line.ends_with("\x1b[K")) << line;
    lines.push_back(line.substr(0, line.size() - 3));
    if (end == std::string::npos) return lines;
    at = end + 2;
  }
}

TopFrame frame_of(std::size_t n) {
  TopFrame f;
  f.summary = "Status: running";
  for (std::size_t i = 0; i < n; ++i)
    f.rows.push_back({{"mod" + std::to_string(i), "running", 100 + static_cast<std::int64_t>(i), 0, 61, 5, 1},
                      12.5,
                      2048});
  return f;
}

TEST(TopScreen, ModulesFromTheRoutersJson) {
  auto rows = parse_modules(
      R"([{"name":"cli","state":"running","pid":415,"restarts":2,"uptime_s":7,"msgs":9,"in_flight":1,"ready":true},)"
      R"({"name":"gone","state":"stopped","pid":0}])");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].name, "cli");
  EXPECT_EQ((*rows)[0].pid, 415);
  EXPECT_EQ((*rows)[0].restarts, 2);
  EXPECT_EQ((*rows)[0].msgs, 9u);
  EXPECT_EQ((*rows)[0].in_flight, 1u);
  EXPECT_EQ((*rows)[1].state, "stopped");
  EXPECT_EQ((*rows)[1].msgs, 0u);
  EXPECT_FALSE(parse_modules("Loaded modules:\n  cli\n")) << "the text form is not the list";
  EXPECT_FALSE(parse_modules(R"({"name":"cli"})"));
  EXPECT_FALSE(parse_modules("[1,2]"));
  rows = parse_modules(R"([{"name":"evil\u001b[2J","pid":"12","state":7}])");
  ASSERT_TRUE(rows);
  EXPECT_EQ((*rows)[0].name, "evil?[2J") << "no escape sequences reach the terminal";
  EXPECT_EQ((*rows)[0].pid, 0) << "a field of the wrong type counts as absent";
  EXPECT_EQ((*rows)[0].state, "");
}

TEST(TopScreen, StatusOnOneLine) {
  EXPECT_EQ(status_summary("Portal v2.0.0\nStatus: running\nModules loaded: 3\n\n"),
            "Portal v2.0.0 | Status: running | Modules loaded: 3");
  EXPECT_EQ(status_summary("a\x1b[2Jb\n"), "a [2Jb");
}

TEST(TopScreen, ProcFigures) {
  EXPECT_EQ(parse_cpu_ticks("415 (portal worker) S 1 415 415 0 -1 4194560 1 0 0 0 17 4 0 0 20 0 2 0 1 2 3"), 21u);
  EXPECT_EQ(parse_cpu_ticks("9 (a) b) R 1 1 1 0 -1 0 0 0 0 0 100 200 0 0"), 300u) << "a ')' in the name";
  EXPECT_FALSE(parse_cpu_ticks("415 (short) S 1 2"));
  EXPECT_FALSE(parse_cpu_ticks(""));
  EXPECT_EQ(parse_rss_kib("Name:\tx\nVmPeak:\t 900 kB\nVmRSS:\t    1234 kB\n"), 1234u);
  EXPECT_FALSE(parse_rss_kib("Name:\tkthreadd\n"));
  std::optional<ProcUsage> self = read_proc_usage(::getpid());
  ASSERT_TRUE(self) << "this test's own process";
  EXPECT_GT(self->rss_kib, 0u);
  EXPECT_FALSE(read_proc_usage(0));
  EXPECT_FALSE(read_proc_usage(-5));
}

TEST(TopScreen, CpuPercentBetweenRounds) {
  CpuMeter meter;
  const auto t0 = CpuMeter::Clock::time_point{};
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  EXPECT_FALSE(meter.sample(7, 100, t0)) << "nothing to compare with yet";
  meter.next_round();
  std::optional<double> pct = meter.sample(7, 100 + static_cast<std::uint64_t>(tick / 2), t0 + 1s);
  ASSERT_TRUE(pct);
  EXPECT_NEAR(*pct, 50.0, 0.5);
  meter.next_round();
  meter.next_round();  // pid 7 not sampled in that round: forgotten
  EXPECT_FALSE(meter.sample(7, 500, t0 + 3s));
}

TEST(TopScreen, ScreenFitsTheTerminal) {
  std::vector<std::string> lines = screen_lines(render_top(frame_of(3), 0, {24, 80}));
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0], "Portal top - Status: running");
  EXPECT_EQ(lines[2], "MODULE         STATE          PID RESTARTS UPTIME      MSGS  INFL  CPU%     RSS");
  EXPECT_NE(lines[2].find("CPU%"), std::string::npos);
  EXPECT_EQ(lines[3], "mod0           running        100        0  1m01s         5     1  12.5    2.0M");
  EXPECT_EQ(lines[6], "q: leave  Up/Down PgUp/PgDn: scroll  modules 1-3 of 3");

  lines = screen_lines(render_top(frame_of(50), 0, {10, 30}));
  ASSERT_EQ(lines.size(), 10u) << "no more lines than the terminal has";
  for (const std::string &l : lines) EXPECT_LE(l.size(), 29u) << l;
  EXPECT_TRUE(lines[3].starts_with("mod0 "));
  EXPECT_TRUE(lines[8].starts_with("mod5 "));
}

TEST(TopScreen, ScrollingStopsAtTheEnds) {
  EXPECT_EQ(visible_rows(10), 6u);
  EXPECT_EQ(visible_rows(3), 1u);
  EXPECT_EQ(max_scroll(50, 10), 44u);
  EXPECT_EQ(max_scroll(3, 24), 0u);
  std::vector<std::string> lines = screen_lines(render_top(frame_of(50), 1000, {10, 200}));
  EXPECT_TRUE(lines[3].starts_with("mod44 ")) << lines[3];
  EXPECT_TRUE(lines[8].starts_with("mod49 "));
  EXPECT_EQ(lines[9], "q: leave  Up/Down PgUp/PgDn: scroll  modules 45-50 of 50");
  lines = screen_lines(render_top(TopFrame{}, 0, {24, 80}));
  EXPECT_EQ(lines.back(), "q: leave  Up/Down PgUp/PgDn: scroll  no modules");
}

TEST(TopScreen, Keys) {
  auto key = [](std::string_view in) { return next_top_key(in).key; };
  EXPECT_EQ(key("q"), TopKey::quit);
  EXPECT_EQ(key("Q"), TopKey::quit);
  EXPECT_EQ(key("\x03"), TopKey::quit);
  EXPECT_EQ(key("\x1b"), TopKey::quit) << "a lone ESC is the Escape key";
  EXPECT_EQ(key("\x1b" "x"), TopKey::quit);
  EXPECT_EQ(key("\x1b[A"), TopKey::up);
  EXPECT_EQ(key("\x1bOB"), TopKey::down);
  EXPECT_EQ(key("\x1b[5~"), TopKey::page_up);
  EXPECT_EQ(key("\x1b[6~"), TopKey::page_down);
  EXPECT_EQ(key("\x1b[H"), TopKey::home);
  EXPECT_EQ(key("\x1b[4~"), TopKey::end);
  EXPECT_EQ(key("\x1b["), TopKey::incomplete);
  EXPECT_EQ(key("\x1b[1;5"), TopKey::incomplete);
  TopInput k = next_top_key("\x1b[C" "q");
  EXPECT_EQ(k.key, TopKey::ignored) << "Right is no key of top";
  EXPECT_EQ(k.consumed, 3u);
  k = next_top_key("\x1b[" + std::string(100, '1') + "A");
  EXPECT_EQ(k.key, TopKey::ignored) << "an endless sequence is dropped, not buffered";
  EXPECT_GT(k.consumed, 0u);
  for (std::string_view other : {"x", " ", "\r", "\n", "\x04", "\x7f", "\xff"}) {
    k = next_top_key(other);
    EXPECT_EQ(k.key, TopKey::ignored);
    EXPECT_EQ(k.consumed, 1u);
  }
}

TEST(TopScreen, WinsizeLineResizes) {
  TopInput k = next_top_key("__winsize 40 120\nq");
  EXPECT_EQ(k.key, TopKey::resize);
  EXPECT_EQ(k.consumed, 17u);
  EXPECT_EQ(k.size.rows, 40);
  EXPECT_EQ(k.size.cols, 120);
  EXPECT_EQ(next_top_key("__winsize 40 120\r\n").consumed, 18u);
  EXPECT_EQ(next_top_key("__wins").key, TopKey::incomplete);
  EXPECT_EQ(next_top_key("__winsize 40").key, TopKey::incomplete);
  k = next_top_key("__winsize x y\n");
  EXPECT_EQ(k.key, TopKey::ignored);
  EXPECT_EQ(k.consumed, 14u) << "a malformed hidden line is swallowed whole";
  k = next_top_key("__winsize " + std::string(200, '9'));
  EXPECT_EQ(k.key, TopKey::ignored) << "too long to wait for";
  EXPECT_EQ(k.consumed, 1u);
  EXPECT_EQ(next_top_key("_x").key, TopKey::ignored);
}

}  // namespace
}  // namespace portal::cli

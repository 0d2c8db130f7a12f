// What `top` shows, as pure functions unit-tested alone: the module table the
// router gives (GET /core/modules format=json), CPU and memory of each worker
// read from /proc (the CLI runs on the same host), the screen drawn for a
// terminal size, and the keys the view understands.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "line_editor.h"

namespace portal::cli {

// One module of /core/modules?format=json.
struct ModuleRow {
  std::string name;
  std::string state;
  std::int64_t pid = 0;
  std::int64_t restarts = 0;
  std::int64_t uptime_s = 0;
  std::uint64_t msgs = 0;
  std::uint64_t in_flight = 0;
};

// nullopt when `json` is not the router's list of modules.
std::optional<std::vector<ModuleRow>> parse_modules(std::string_view json);

// /core/status on one line: its lines joined with " | ".
std::string status_summary(std::string_view body);

// utime + stime (clock ticks) from the text of /proc/<pid>/stat.
std::optional<std::uint64_t> parse_cpu_ticks(std::string_view stat);
// VmRSS (KiB) from the text of /proc/<pid>/status.
std::optional<std::uint64_t> parse_rss_kib(std::string_view status);

struct ProcUsage {
  std::uint64_t cpu_ticks = 0;
  std::uint64_t rss_kib = 0;
};
// nullopt when the process is gone or not readable.
std::optional<ProcUsage> read_proc_usage(std::int64_t pid);

// CPU% of each pid between two refreshes.
class CpuMeter {
 public:
  using Clock = std::chrono::steady_clock;
  // The share of one CPU `pid` used since the last sample of the previous
  // round; nullopt on its first sample.
  std::optional<double> sample(std::int64_t pid, std::uint64_t ticks, Clock::time_point now);
  // Ends a round: pids not sampled in it are forgotten.
  void next_round();

 private:
  struct Sample {
    std::uint64_t ticks;
    Clock::time_point at;
  };
  std::map<std::int64_t, Sample> previous_, current_;
};

struct TopRow {
  ModuleRow module;
  std::optional<double> cpu_percent;
  std::optional<std::uint64_t> rss_kib;
};

struct TopFrame {
  std::string summary;  // status_summary(), or empty
  std::string error;    // a failed refresh, shown until one succeeds
  std::vector<TopRow> rows;
};

// Table rows that fit on a screen of `rows` lines (title, blank, header and
// footer take four).
std::size_t visible_rows(int rows);
// The largest scroll offset that still fills the screen.
std::size_t max_scroll(std::size_t table_rows, int rows);
// The whole screen, from the top-left corner; every line is cut to the width
// and cleared to its end, what is below the last line is cleared.
std::string render_top(const TopFrame &frame, std::size_t scroll, WindowSize size);

inline constexpr std::string_view kEnterScreen = "\x1b[?1049h\x1b[?25l";  // alternate screen, cursor hidden
inline constexpr std::string_view kLeaveScreen = "\x1b[?25h\x1b[?1049l";

enum class TopKey { ignored, incomplete, quit, up, down, page_up, page_down, home, end, resize };
struct TopInput {
  TopKey key = TopKey::ignored;
  std::size_t consumed = 0;
  WindowSize size;  // resize
};
// The next key in `in` (not empty): q, ESC or Ctrl-C quit; arrows, PgUp/PgDn,
// Home/End scroll; a `__winsize` line resizes; anything else is ignored. A lone
// ESC at the end of the input is the Escape key (a terminal sends an arrow's
// bytes at once); an escape sequence or `__winsize` line cut short is
// `incomplete` and waits for more bytes.
TopInput next_top_key(std::string_view in);

}  // namespace portal::cli

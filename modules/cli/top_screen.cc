#include "top_screen.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "commands.h"

namespace portal::cli {

namespace {

constexpr int kFixedLines = 4;  // title, status line, header, footer
// 79 columns: a row fits an 80-column terminal.
constexpr const char *kRowFormat = "%-14.14s %-10.10s %7s %8s %6s %9s %5s %5s %7s";

template <class T>
T number_or_zero(const nlohmann::json &object, const char *key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<T>() : T{};
}

// Module names and states go to the client's terminal: no escape sequences.
std::string printable(const nlohmann::json &object, const char *key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  std::string text = it->get<std::string>();
  for (char &c : text)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return text;
}

std::optional<std::uint64_t> to_number(std::string_view text) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return n;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string format_uptime(std::int64_t s) {
  if (s < 60) return std::to_string(s) + "s";
  char buf[32];
  if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  return buf;
}

std::string format_rss(std::uint64_t kib) {
  if (kib < 1024) return std::to_string(kib) + "K";
  char buf[32];
  if (kib < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(kib) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%.1fG", static_cast<double>(kib) / (1024 * 1024));
  return buf;
}

std::string table_line(const TopRow &row) {
  const ModuleRow &m = row.module;
  const bool running = m.pid > 0;
  char cpu[32] = "-";
  if (row.cpu_percent) std::snprintf(cpu, sizeof cpu, "%.1f", *row.cpu_percent);
  char line[512];
  std::snprintf(line, sizeof line, kRowFormat, m.name.c_str(), m.state.empty() ? "unknown" : m.state.c_str(),
                running ? std::to_string(m.pid).c_str() : "-", std::to_string(m.restarts).c_str(),
                running ? format_uptime(m.uptime_s).c_str() : "-", std::to_string(m.msgs).c_str(),
                std::to_string(m.in_flight).c_str(), cpu, row.rss_kib ? format_rss(*row.rss_kib).c_str() : "-");
  return line;
}

std::string header_line() {
  char line[256];
  std::snprintf(line, sizeof line, kRowFormat, "MODULE", "STATE", "PID", "RESTARTS", "UPTIME", "MSGS", "INFL", "CPU%",
                "RSS");
  return line;
}

std::string footer_line(std::size_t first, std::size_t shown, std::size_t total) {
  std::string where = total == 0 ? "no modules"
                                 : "modules " + std::to_string(first + 1) + "-" + std::to_string(first + shown) +
                                       " of " + std::to_string(total);
  return "q: leave  Up/Down PgUp/PgDn: scroll  " + where;
}

TopInput escape_key(std::string_view in) {
  if (in.size() == 1) return {TopKey::quit, 1, {}};  // the Escape key itself
  if (in[1] != '[' && in[1] != 'O') return {TopKey::quit, 1, {}};
  constexpr std::size_t kMaxParams = 16;
  std::size_t i = 2;
  while (i < in.size() && !(in[i] >= 0x40 && in[i] <= 0x7e)) {
    if (i - 2 >= kMaxParams) return {TopKey::ignored, i, {}};  // not a key we know
    ++i;
  }
  if (i == in.size()) return {TopKey::incomplete, 0, {}};
  const std::string_view params = in.substr(2, i - 2);
  const char final = in[i];
  TopInput out{TopKey::ignored, i + 1, {}};
  if (final == 'A') out.key = TopKey::up;
  if (final == 'B') out.key = TopKey::down;
  if (final == 'H' || (final == '~' && (params == "1" || params == "7"))) out.key = TopKey::home;
  if (final == 'F' || (final == '~' && (params == "4" || params == "8"))) out.key = TopKey::end;
  if (final == '~' && params == "5") out.key = TopKey::page_up;
  if (final == '~' && params == "6") out.key = TopKey::page_down;
  return out;
}

TopInput winsize_key(std::string_view in) {
  constexpr std::string_view kWord = "__winsize ";
  constexpr std::size_t kMaxLine = 64;
  if (in.size() < kWord.size() && kWord.starts_with(in)) return {TopKey::incomplete, 0, {}};
  if (!in.starts_with(kWord)) return {TopKey::ignored, 1, {}};
  std::size_t end = in.find_first_of("\r\n");
  if (end == std::string_view::npos) {
    if (in.size() < kMaxLine) return {TopKey::incomplete, 0, {}};
    return {TopKey::ignored, 1, {}};  // too long for the hidden line: ordinary ignored bytes
  }
  std::optional<WindowSize> size;
  parse_winsize_line(in.substr(0, end), size);
  std::size_t consumed = end + 1;
  if (in[end] == '\r' && consumed < in.size() && in[consumed] == '\n') ++consumed;
  if (!size) return {TopKey::ignored, consumed, {}};
  return {TopKey::resize, consumed, *size};
}

}  // namespace

std::optional<std::vector<ModuleRow>> parse_modules(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) return std::nullopt;
  std::vector<ModuleRow> rows;
  for (const nlohmann::json &m : doc) {
    if (!m.is_object()) return std::nullopt;
    rows.push_back({printable(m, "name"), printable(m, "state"), number_or_zero<std::int64_t>(m, "pid"),
                    number_or_zero<std::int64_t>(m, "restarts"), number_or_zero<std::int64_t>(m, "uptime_s"),
                    number_or_zero<std::uint64_t>(m, "msgs"), number_or_zero<std::uint64_t>(m, "in_flight")});
  }
  return rows;
}

std::string status_summary(std::string_view body) {
  std::string out;
  for (std::string line : split_lines(body)) {
    if (line.empty()) continue;
    for (char &c : line)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = ' ';
    out += (out.empty() ? "" : " | ") + line;
  }
  return out;
}

std::optional<std::uint64_t> parse_cpu_ticks(std::string_view stat) {
  // The command name (field 2) may hold spaces and ')': fields are counted
  // after its last ')'; utime and stime are fields 14 and 15.
  std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::vector<std::string> fields = split_words(stat.substr(close + 1));
  if (fields.size() < 13) return std::nullopt;
  std::optional<std::uint64_t> utime = to_number(fields[11]), stime = to_number(fields[12]);
  if (!utime || !stime) return std::nullopt;
  return *utime + *stime;
}

std::optional<std::uint64_t> parse_rss_kib(std::string_view status) {
  for (std::string line : split_lines(status)) {
    std::replace(line.begin(), line.end(), '\t', ' ');
    std::vector<std::string> words = split_words(line);
    if (words.size() >= 2 && words[0] == "VmRSS:") return to_number(words[1]);
  }
  return std::nullopt;
}

std::optional<ProcUsage> read_proc_usage(std::int64_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::optional<std::uint64_t> ticks = parse_cpu_ticks(read_file(dir + "/stat"));
  if (!ticks) return std::nullopt;
  return ProcUsage{*ticks, parse_rss_kib(read_file(dir + "/status")).value_or(0)};
}

std::optional<double> CpuMeter::sample(std::int64_t pid, std::uint64_t ticks, Clock::time_point now) {
  current_[pid] = {ticks, now};
  auto it = previous_.find(pid);
  if (it == previous_.end() || now <= it->second.at || ticks < it->second.ticks) return std::nullopt;
  const double seconds = std::chrono::duration<double>(now - it->second.at).count();
  static const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(ticks - it->second.ticks) / ticks_per_second / seconds * 100.0;
}

void CpuMeter::next_round() {
  previous_ = std::move(current_);
  current_.clear();
}

std::size_t visible_rows(int rows) { return rows > kFixedLines + 1 ? static_cast<std::size_t>(rows - kFixedLines) : 1; }

std::size_t max_scroll(std::size_t table_rows, int rows) {
  const std::size_t visible = visible_rows(rows);
  return table_rows > visible ? table_rows - visible : 0;
}

std::string render_top(const TopFrame &frame, std::size_t scroll, WindowSize size) {
  scroll = std::min(scroll, max_scroll(frame.rows.size(), size.rows));
  const std::size_t shown = std::min(visible_rows(size.rows), frame.rows.size() - scroll);
  std::vector<std::string> lines{"Portal top" + (frame.summary.empty() ? "" : " - " + frame.summary), frame.error,
                                 header_line()};
  for (std::size_t i = scroll; i < scroll + shown; ++i) lines.push_back(table_line(frame.rows[i]));
  lines.push_back(footer_line(scroll, shown, frame.rows.size()));
  // The last column is left free: a character there makes some terminals wrap.
  const std::size_t width = size.cols > 1 ? static_cast<std::size_t>(size.cols - 1) : 1;
  std::string out = "\x1b[H";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out += lines[i].substr(0, width) + "\x1b[K";
    if (i + 1 < lines.size()) out += "\r\n";
  }
  return out + "\x1b[J";
}

TopInput next_top_key(std::string_view in) {
  switch (in.front()) {
    case 'q':
    case 'Q':
    case '\x03':  // Ctrl-C
      return {TopKey::quit, 1, {}};
    case '\x1b':
      return escape_key(in);
    case '_':
      return winsize_key(in);
    default:
      return {TopKey::ignored, 1, {}};
  }
}

}  // namespace portal::cli

#include "common/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

namespace portal::log {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

enum class Sink { journal, terminal, plain };

Sink detect_sink() {
  if (const char* js = std::getenv("JOURNAL_STREAM")) {
    struct stat st;
    unsigned long dev = 0, ino = 0;
    if (std::sscanf(js, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
        st.st_dev == dev && st.st_ino == ino)
      return Sink::journal;
  }
  return isatty(STDERR_FILENO) ? Sink::terminal : Sink::plain;
}

const char* color(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "31";
    case LogLevel::warn: return "33";
    case LogLevel::info: return "32";
    case LogLevel::debug: return "36";
    case LogLevel::trace: return "90";
  }
  return "0";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::error: return 3;
    case LogLevel::warn: return 4;
    case LogLevel::info: return 6;
    default: return 7;
  }
}

}  // namespace

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error: return "ERROR";
    case LogLevel::warn: return "WARN";
    case LogLevel::info: return "INFO";
    case LogLevel::debug: return "DEBUG";
    case LogLevel::trace: return "TRACE";
  }
  return "?";
}

void set_level(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }
LogLevel level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
bool enabled(LogLevel l) { return static_cast<int>(l) <= g_level.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, LogLevel& out) {
  static constexpr std::pair<std::string_view, LogLevel> names[] = {
      {"error", LogLevel::error}, {"warn", LogLevel::warn},   {"warning", LogLevel::warn},
      {"info", LogLevel::info},   {"debug", LogLevel::debug}, {"trace", LogLevel::trace}};
  for (auto& [name, l] : names)
    if (name == text) {
      out = l;
      return true;
    }
  return false;
}

void write(LogLevel l, std::string_view topic, std::string_view text) {
  if (!enabled(l)) return;
  static const Sink sink = detect_sink();
  static std::mutex mu;
  std::string line;
  line.reserve(text.size() + 64);
  if (sink == Sink::journal) {
    line += '<';
    line += static_cast<char>('0' + syslog_priority(l));
    line += '>';
  } else {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm tmv;
    localtime_r(&ts.tv_sec, &tmv);
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02d %02d:%02d:%02d.%03ld ", tmv.tm_year + 1900,
                  tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ts.tv_nsec / 1000000);
    if (sink == Sink::terminal) {
      line += "\033[";
      line += color(l);
      line += 'm';
    }
    line += stamp;
    char lv[12];
    std::snprintf(lv, sizeof lv, "[%-5s] ", level_name(l));
    line += lv;
  }
  // One record per line, and nothing a terminal would interpret: a newline inside the text
  // must not forge a second log line, an escape sequence must not rewrite the screen.
  auto clean = [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') return ' ';
    return (u < 0x20 || u == 0x7f) ? '?' : c;
  };
  line += '[';
  std::size_t shown = std::min<std::size_t>(topic.size(), 64);
  for (std::size_t i = 0; i < shown; ++i) line += clean(topic[i]);
  if (shown < 12) line.append(12 - shown, ' ');
  line += "] ";
  for (char c : text) line += clean(c);
  if (sink == Sink::terminal) line += "\033[0m";
  line += '\n';
  std::lock_guard lock(mu);
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace portal::log

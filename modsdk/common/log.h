// Process-wide logging to stderr. Each line names its topic (core, router, mod.<name>).
// When stderr is the journal (JOURNAL_STREAM matches), lines carry the <N> priority prefix
// and no timestamp; on a terminal they are coloured as the original's (COMPAT.md 1.7).
#pragma once

#include <string_view>

#include "portal/module.h"

namespace portal::log {

// "ERROR", "WARN", "INFO", "DEBUG", "TRACE".
const char* level_name(LogLevel level);
void set_level(LogLevel level);
LogLevel level();
bool enabled(LogLevel level);
// "error" | "warn" | "info" | "debug" | "trace"; false when unknown.
bool parse_level(std::string_view text, LogLevel& out);
void write(LogLevel level, std::string_view topic, std::string_view text);

inline void error(std::string_view topic, std::string_view text) { write(LogLevel::error, topic, text); }
inline void warn(std::string_view topic, std::string_view text) { write(LogLevel::warn, topic, text); }
inline void info(std::string_view topic, std::string_view text) { write(LogLevel::info, topic, text); }
inline void debug(std::string_view topic, std::string_view text) {
  if (enabled(LogLevel::debug)) write(LogLevel::debug, topic, text);
}

}  // namespace portal::log

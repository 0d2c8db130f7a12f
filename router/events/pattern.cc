#include "router/events/pattern.h"

namespace portal::events {

Status validate_pattern(std::string_view pattern) {
  if (pattern.empty()) return make_error(400, "empty event pattern");
  if (pattern.size() > kMaxPatternBytes) return make_error(400, "event pattern too long");
  if (pattern.find('\0') != std::string_view::npos)
    return make_error(400, "event pattern contains NUL");
  if (pattern == "*") return {};
  if (pattern.front() != '/') return make_error(400, "event pattern must be absolute");
  return {};
}

Status validate_event_path(std::string_view path) {
  if (auto st = validate_pattern(path); !st) return st;
  if (is_wildcard(path)) return make_error(400, "event path must not be a pattern");
  return {};
}

bool is_wildcard(std::string_view pattern) {
  return pattern == "*" || (pattern.size() >= 2 && pattern.ends_with("/*"));
}

bool pattern_matches(std::string_view pattern, std::string_view path) {
  if (pattern == "*") return true;
  if (pattern.size() >= 2 && pattern.ends_with("/*")) {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '/'
    return path.starts_with(prefix);
  }
  return pattern == path;
}

}  // namespace portal::events

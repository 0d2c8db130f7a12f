// Reading numbers from a module's settings, the same way in every module: digits only (no
// sign, no spaces, no overflow), sizes with an optional k/M/G suffix (powers of 1024), and
// one wording for a bad value, given as a kFatalConfig error so the worker is not respawned
// for a configuration that can never work.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::config_values {

inline std::optional<std::uint64_t> parse_number(std::string_view text, int base = 10) {
  std::uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v, base);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

// "16M" -> 16777216; a bare number is bytes.
inline std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k': case 'K': scale = 1ull << 10; break;
      case 'm': case 'M': scale = 1ull << 20; break;
      case 'g': case 'G': scale = 1ull << 30; break;
      default: break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  std::optional<std::uint64_t> v = parse_number(text);
  if (!v || *v > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
  return *v * scale;
}

// "invalid <key> = '<value>': expected <expected>", as a kFatalConfig error.
inline Error bad_value(std::string_view key, std::string_view value, std::string_view expected) {
  return make_error(kFatalConfig, "invalid " + std::string(key) + " = '" + std::string(value) + "': expected " +
                                      std::string(expected));
}

enum class Units { plain, size };

// Reads `key` through `lookup` (a callable key -> optional<string>) as a number within
// [min, max] into `out`; an absent key keeps `out` as it is (the default).
template <class Lookup, class T>
Status read_number(const Lookup& lookup, std::string_view key, std::uint64_t min, std::uint64_t max, T& out,
                   Units units = Units::plain) {
  std::optional<std::string> text = lookup(key);
  if (!text) return {};
  std::optional<std::uint64_t> v = units == Units::size ? parse_size(*text) : parse_number(*text);
  if (!v || *v < min || *v > max)
    return bad_value(key, *text, "a number from " + std::to_string(min) + " to " + std::to_string(max));
  out = static_cast<T>(*v);
  return {};
}

}  // namespace portal::config_values

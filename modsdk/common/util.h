// Small helpers shared by every process.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace portal {

// FNV-1a, 64-bit: the path table's hash (DESIGN.md 2).
constexpr std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

inline std::uint64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

inline std::uint64_t mono_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

// "1d 2h", "3h 4m", "5m 6s", "7s".
std::string format_duration(std::uint64_t seconds);

}  // namespace portal

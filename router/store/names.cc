#include "router/store/names.h"

#include <string>

namespace portal::store {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

Status check(std::string_view s, std::size_t max, std::string_view what) {
  bool ok = !s.empty() && s.size() <= max && s.front() != '.';
  for (char c : s) ok = ok && name_char(c);
  if (ok) return {};
  return make_error(400, "invalid " + std::string(what) + ": must be 1-" + std::to_string(max) +
                             " characters of A-Z a-z 0-9 . _ - not starting with '.'");
}

}  // namespace

Status validate_name(std::string_view name, std::string_view what) { return check(name, kMaxNameLength, what); }

Status validate_config_key(std::string_view key) { return check(key, kMaxKeyLength, "config key"); }

}  // namespace portal::store

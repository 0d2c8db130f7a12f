#include "layout.h"

#include <filesystem>

namespace portal::instance {

namespace fs = std::filesystem;

Status validate_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 32 && name.front() != '-';
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) ok = false;
  if (!ok) return make_error(400, "invalid instance name '" + std::string(name) + "': 1-32 of A-Z a-z 0-9 _ -");
  return {};
}

Result<std::string> normalize_prefix(const std::string& prefix) {
  if (prefix.empty() || prefix == "/") return std::string();
  for (char c : prefix)
    if (static_cast<unsigned char>(c) < 0x20) return make_error(400, "--prefix: control characters in the path");
  std::error_code ec;
  fs::path p = fs::absolute(prefix, ec).lexically_normal();
  if (ec) return make_error(400, "--prefix " + prefix + ": " + ec.message());
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s == "/" ? std::string() : s;
}

}  // namespace portal::instance

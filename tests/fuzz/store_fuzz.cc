// What the router reads from disk: escaped store values round-trip exactly, and the legacy
// users file parser turns any bytes into users and "file:line" errors, never a crash.
#include <string>
#include <string_view>
#include <vector>

#include "common/value_escape.h"
#include "fuzz_target.h"
#include "router/store/legacy_users.h"
#include "router/store/names.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // Any value survives escape -> unescape, and an escaped value is one INI-safe line.
  std::string escaped = portal::config::escape_value(bytes);
  if (escaped.find('\n') != std::string::npos || escaped.find('\r') != std::string::npos) __builtin_trap();
  auto back = portal::config::unescape_value(escaped);
  if (!back || *back != bytes) __builtin_trap();
  (void)portal::config::unescape_value(bytes);  // arbitrary text: a value or a 400
  auto report = portal::store::parse_legacy_users(bytes, "users.conf", [] { return std::string(64, 'a'); });
  for (const auto& u : report.items)
    if (!portal::store::validate_name(u.name)) __builtin_trap();  // only valid names get through
  for (const auto& e : report.errors)
    if (e.rfind("users.conf:", 0) != 0) __builtin_trap();
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {"root:secret:root,admin:auto\nbob:$sha256$salt$00:staff:\n# c\n", "a\\x00b\\n\\\\", " lead and trail ",
          "x:y:z:w:v\n::::\n"};
}

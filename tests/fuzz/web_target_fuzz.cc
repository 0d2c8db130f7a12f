// The web module's request-target decoding: any bytes give a 400 or a target whose path is
// valid UTF-8, holds no NUL and no ".." segment, and starts with '/' (never a crash).
#include <string>
#include <string_view>
#include <vector>

#include "../../modules/web/http_mapping.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  auto r = portal::web::parse_target(target, "/api");
  if (!r) {
    if (r.error().code != 400) __builtin_trap();
    return 0;
  }
  const std::string& p = r->path;
  if (r->kind == portal::web::TargetKind::api) {
    if (p.empty() || p.front() != '/') __builtin_trap();
    if (p.find('\0') != std::string::npos || !portal::web::valid_utf8(p)) __builtin_trap();
    std::string padded = p + "/";
    if (padded.find("/../") != std::string::npos) __builtin_trap();
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {"/api/hello/resources/greeting", "/api/users/x?password=a%20b&groups=a,b", "/api/%2e%2e/x",
          "/api/a%00b", "/api", "/api/", "/elsewhere", "/api/x?action=delete&k=%zz", "/api/%c3%a9t%c3%a9"};
}

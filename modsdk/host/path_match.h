// The wildcard fallback every host applies after an exact miss (DESIGN.md 2):
// "/a/b/c" tries "/a/b/*", then "/a/*", then "/*" — never "/a/b/c/*".
#pragma once

#include <string>
#include <string_view>

namespace portal::host {

// Calls found(candidate) for each fallback, most specific first, until it returns true.
// Returns whether one did. `scratch` is reused between calls to avoid allocations.
template <class Found>
bool for_each_wildcard(std::string_view path, std::string& scratch, Found&& found) {
  std::size_t slash = path.rfind('/');
  while (slash != std::string_view::npos) {
    scratch.assign(path.data(), slash + 1);
    scratch += '*';
    if (found(std::string_view(scratch))) return true;
    if (slash == 0) break;
    slash = path.rfind('/', slash - 1);
  }
  return false;
}

}  // namespace portal::host

// Event pattern matching (COMPAT.md 1.8): an exact path, "/prefix/*" (everything under
// "/prefix/", any depth) or "*" (everything).
#pragma once

#include <cstddef>
#include <string_view>

#include "portal/result.h"

namespace portal::events {

inline constexpr std::size_t kMaxPatternBytes = 1024;

// Absolute ("/..." or exactly "*"), no NUL, at most kMaxPatternBytes. A '*' is only
// meaningful as the whole pattern or as a final "/*" segment; anywhere else it is taken
// literally, as the original did.
Status validate_pattern(std::string_view pattern);

// Same rules, and the path must be exact: no trailing "/*" and not "*".
Status validate_event_path(std::string_view path);

bool is_wildcard(std::string_view pattern);

bool pattern_matches(std::string_view pattern, std::string_view path);

}  // namespace portal::events

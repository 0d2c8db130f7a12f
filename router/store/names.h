// Names that become file names. A user, group or module name is 1-64 bytes of
// [A-Za-z0-9._-] not starting with '.', so '/', "..", NUL, spaces and non-UTF-8 bytes can
// never reach the file system. Config keys use the same alphabet, up to 128 bytes.
#pragma once

#include <string_view>

#include "portal/result.h"

namespace portal::store {

inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kMaxKeyLength = 128;

// Ok, or a 400 error whose message can be shown to a client as is, e.g.
// "invalid user name: must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with '.'".
Status validate_name(std::string_view name, std::string_view what = "name");
Status validate_config_key(std::string_view key);

}  // namespace portal::store

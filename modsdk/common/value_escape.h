// Escaping of values in store files, so any byte string round-trips through an INI line
// (`key = value`, trimmed by the parser) and a value can never start a second key:
//
//   \\  backslash        \n  line feed        \r  carriage return     \t  tab
//   \xHH  any byte (two hex digits): used for the other control bytes (0x00-0x1f, 0x7f)
//         and for a space at the start or end of the value, which the parser would trim.
//
// Every other byte, including '=', '#', ';', quotes and non-UTF-8 bytes, is written as is.
#pragma once

#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::config {

std::string escape_value(std::string_view raw);
// 400 error "bad escape at byte N" for a dangling '\', an unknown escape or bad hex.
Result<std::string> unescape_value(std::string_view escaped);

}  // namespace portal::config

// The legacy seed file `users.conf` (COMPAT.md 1.6):
//
//   # comment
//   username:password:label1,label2:api_key
//
// `api_key` "auto" = generate one now (through the caller's generator), empty = none.
// Fields: with three or more ':' the password is everything between the first ':' and
// the second-to-last ':' (so a password may contain ':'; labels and api keys cannot).
// With exactly one or two ':' the line is `user:password` or `user:password:labels`.
// Usernames and labels follow names.h; a bad line is reported and skipped.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/result.h"
#include "router/store/records.h"

namespace portal::store {

struct LegacyUser {
  std::string name;
  std::string password;  // as written: plain text or `$sha256$salt$hex`
  std::vector<std::string> labels;
  std::string api_key;  // generated when the file said "auto"; empty = none
  int line = 0;
};

using KeyGenerator = std::function<std::string()>;

// Errors are "<file>:<line>: <what>"; the other lines still load.
LoadReport<LegacyUser> parse_legacy_users(std::string_view text, std::string_view file_name,
                                          const KeyGenerator& generate_key);
// 404 when the file is missing, else the parse report.
Result<LoadReport<LegacyUser>> load_legacy_users_file(const std::string& path, const KeyGenerator& generate_key);

}  // namespace portal::store

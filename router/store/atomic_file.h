// Crash-safe file replacement for credential files (W11: mode 0600 on every rewrite).
#pragma once

#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::store {

// Writes `contents` to `<path>.tmp.<random>` (O_CREAT|O_EXCL|O_NOFOLLOW, then fchmod to
// `mode` so no umask can widen or narrow it), fsyncs it, renames it over `path` and fsyncs
// the directory. On any failure the temporary file is removed and `path` is untouched.
Status write_file_atomic(const std::string& path, std::string_view contents, unsigned mode = 0600);

// Creates `dir` (one level) with `mode` if missing; an existing directory is chmod-ed to
// `mode`. Fails if `dir` exists and is not a directory.
Status ensure_private_dir(const std::string& dir, unsigned mode = 0700);

// True for "<file>.tmp.<lowercase hex>", the temporaries write_file_atomic creates.
bool is_temporary_name(std::string_view name);

// Removes `<file>.tmp.<hex>` leftovers of interrupted writes in `dir`; returns how many.
int remove_stale_temporaries(const std::string& dir);

Result<std::string> read_whole_file(const std::string& path);

}  // namespace portal::store

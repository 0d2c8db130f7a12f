// Finding module libraries and the helper binaries (portal-router, portal-worker): an
// explicit setting first, then the build tree when portald runs from it, then the
// installed location.
#pragma once

#include <string>
#include <vector>

#include "portal/result.h"
#include "supervisor/settings.h"

namespace portal::supervisor {

// Candidate paths for module `name`, in lookup order.
std::vector<std::string> library_candidates(const std::string& name, const std::string& modules_dir,
                                            const SearchRoots& roots);

// The library for a module: `explicit_path` when set (must exist), else the first existing
// candidate. The error names the module and every path tried.
Result<std::string> find_library(const std::string& name, const std::string& explicit_path,
                                 const std::string& modules_dir, const SearchRoots& roots);

struct Programs {
  std::string router;  // portal-router
  std::string worker;  // portal-worker
};

// Env PORTAL_ROUTER_BIN / PORTAL_WORKER_BIN, then build tree, then libexec.
Result<Programs> find_programs(const SearchRoots& roots);

bool is_regular_file(const std::string& path);

}  // namespace portal::supervisor

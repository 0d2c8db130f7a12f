// The access rules (DESIGN.md 2, COMPAT.md 1.5): every route — exact or wildcard — is
// checked here against the caller the router resolved (auth_service.h); a worker never
// decides identity.
#pragma once

#include <string>
#include <vector>

#include "portal.pb.h"
#include "router/path_table.h"

namespace portal::router {

struct Caller {
  std::string user;  // empty: anonymous
  std::vector<std::string> labels;
  std::string asserted_by;  // the module that asserted this identity (capability), if any
  bool has_label(std::string_view l) const;
};

// COMPAT.md 1.5 path gate: root passes; a path with no labels is open; otherwise the
// caller's labels must intersect the path's.
bool path_allows(const Caller& caller, const PathEntry& path);

// COMPAT.md 1.5 row filter (Law 15) for listings.
bool labels_allow(const Caller& caller, const std::vector<std::string>& row_labels);

// The admin gate for mutations of users, groups, modules and config: user `root`, or
// label `admin` or `hub-admin`.
bool may_administer(const Caller& caller);

}  // namespace portal::router

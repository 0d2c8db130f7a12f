// The access seam (DESIGN.md 2): identity is decided here, never by a worker, and every
// route — exact or wildcard — is checked here. The identity/users/sessions issue plugs its
// resolver into IdentityResolver; the ACL rules below are already the final ones.
#pragma once

#include <string>
#include <vector>

#include "portal.pb.h"
#include "router/path_table.h"

namespace portal::router {

struct Caller {
  std::string user;  // empty: anonymous
  std::vector<std::string> labels;
  bool has_label(std::string_view l) const;
};

// Turns forwarded credentials into a Caller. Until users exist (next issue) every
// credential resolves to anonymous; an identity a worker wrote into ctx.auth is ignored.
class IdentityResolver {
 public:
  virtual ~IdentityResolver() = default;
  virtual Caller resolve(const pb::Context& ctx, std::string_view from_module) = 0;
};

class AnonymousResolver final : public IdentityResolver {
 public:
  Caller resolve(const pb::Context&, std::string_view) override { return {}; }
};

// COMPAT.md 1.5 path gate: root passes; a path with no labels is open; otherwise the
// caller's labels must intersect the path's.
bool path_allows(const Caller& caller, const PathEntry& path);

// COMPAT.md 1.5 row filter (Law 15) for listings.
bool labels_allow(const Caller& caller, const std::vector<std::string>& row_labels);

// Operator actions (/core/modules/<name>). Until identities exist, the only doors are the
// local control socket (mode 0660) and modules, so every caller is an operator; the
// identity issue narrows this to root, admin and hub-admin.
bool may_administer(const Caller& caller);

}  // namespace portal::router

#include "router/access.h"

#include <algorithm>

namespace portal::router {

bool Caller::has_label(std::string_view l) const {
  return std::find(labels.begin(), labels.end(), l) != labels.end();
}

static bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a)
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  return false;
}

bool path_allows(const Caller& caller, const PathEntry& path) {
  if (caller.user == "root") return true;
  if (path.labels.empty()) return true;
  if (caller.user.empty()) return false;
  return intersects(caller.labels, path.labels);
}

bool labels_allow(const Caller& caller, const std::vector<std::string>& row_labels) {
  if (caller.user == "root") return true;
  if (row_labels.empty()) return true;
  if (intersects(caller.labels, row_labels)) return true;
  return caller.has_label("sys.see_all");  // COMPAT.md 1.5; the core's own listings do not audit it
}

bool may_administer(const Caller& caller) {
  if (caller.user.empty()) return false;
  return caller.user == "root" || caller.has_label("admin") || caller.has_label("hub-admin");
}

}  // namespace portal::router

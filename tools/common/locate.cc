#include "locate.h"

#include <unistd.h>

#include "portal_build_config.h"

namespace portal::tools {

bool from_build_tree() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return false;
  std::string exe(buf, static_cast<std::size_t>(n));
  std::string root = PORTAL_BUILD_ROOT;
  return exe.compare(0, root.size() + 1, root + "/") == 0;
}

std::string find_program(const std::string& name) {
  if (from_build_tree()) {
    std::string root = PORTAL_BUILD_ROOT;
    if (name == "portal-router") return root + "/router/portal-router";
    if (name == "portal-worker") return root + "/modsdk/worker/portal-worker";
    if (name == "portald") return root + "/supervisor/portald";
    if (name == "portalctl") return root + "/tools/portalctl";
  }
  if (name == "portald" || name == "portalctl") return std::string(PORTAL_BIN_DIR) + "/" + name;
  return std::string(PORTAL_LIBEXEC_DIR) + "/" + name;
}

std::string find_module(const std::string& name) {
  if (from_build_tree()) return std::string(PORTAL_BUILD_ROOT) + "/modules/" + name + "/mod_" + name + ".so";
  return std::string(PORTAL_MODULE_DIR) + "/mod_" + name + ".so";
}

}  // namespace portal::tools

// Where Portal's programs and modules are: next to the build tree when the running tool
// was started from it, else where `meson install` puts them.
#pragma once

#include <string>

namespace portal::tools {

// True when the running executable lies inside the build tree it was built in.
bool from_build_tree();
// "portald", "portal-router", "portal-worker", "portalctl".
std::string find_program(const std::string& name);
// mod_<name>.so
std::string find_module(const std::string& name);

}  // namespace portal::tools

// Paths the router serves itself (COMPAT.md 2): /core/status, /core/modules,
// /core/modules/<name>, /core/paths, /core/ls.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portal.pb.h"
#include "router/access.h"

namespace portal::router {

class Router;
struct Origin;

// Paths under the core's prefixes reach the core even when not registered (COMPAT.md 1.4
// step 6); the core answers 404 for the ones it does not know.
bool is_core_path(std::string_view path);

// Paths no module may register: /core/, /auth/, /users/, /groups/ (the core answers there),
// and the bare prefixes themselves. Modules' events live under /events/<module>/.
bool is_reserved_path(std::string_view path);

// The core paths registered at start-up (open, no labels).
void register_core_paths(class PathTable& table);

// Events the core declares (path, description); labelled `admin`.
std::vector<std::pair<std::string, std::string>> core_events();

void handle_core(Router& router, const Caller& caller, const pb::Message& msg, Origin origin);

}  // namespace portal::router

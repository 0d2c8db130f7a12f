// The storage paths of docs/PROTOCOL.md §10 and the status path.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "portal/module.h"

namespace portal::config_psql {

// Registers /<module>/storage/{users,user,groups,group,config,configs} (label
// sys.storage) and /<module>/resources/status (open); `registered` gets each path, for
// unload() to remove.
Status register_paths(Core& core, std::shared_ptr<Backend> backend, std::vector<std::string>& registered);

}  // namespace portal::config_psql

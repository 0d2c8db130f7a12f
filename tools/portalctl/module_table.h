// `portalctl module list`: the router's JSON (GET /core/modules, format=json) as a table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "portal/result.h"

namespace portal::tools {

// Rows of cells, the first row being the column names. Columns are left-aligned, two
// spaces apart, with no trailing blanks.
std::string render_table(const std::vector<std::vector<std::string>>& rows);

// NAME STATE PID RESTARTS UPTIME MSGS from a JSON array of objects (keys name, state, pid,
// restarts, uptime_s, msgs). A missing value shows as "-", as do the PID of a module
// without a process and the uptime of one that is not up. An error when the text is not a
// JSON array of objects.
Result<std::string> render_module_table(std::string_view json_text);

}  // namespace portal::tools

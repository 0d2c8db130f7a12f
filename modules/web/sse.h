// Server-sent events (README.md "Live events"): the wire text of one delivery.
#pragma once

#include <chrono>
#include <string>

#include "portal/module.h"

namespace portal::web {

inline constexpr std::chrono::seconds kSseKeepalive{15};
inline constexpr const char* kSseKeepaliveLine = ": keepalive\n\n";

// "id: <trace id>\n" (when nonzero), "event: <path>\n", one "data: " line per body line,
// then a blank line. A comment notes events the router dropped for this client.
std::string format_sse(const Event& ev);

}  // namespace portal::web

// Free ports for a new instance: not named by any other instance under the same prefix and
// free to bind on 127.0.0.1 right now.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "portal/result.h"

namespace portal::instance {

// Every port a config file under `etc_root` (<prefix>/etc/portal) mentions in a key named
// port, tls_port or listen_port.
std::set<std::uint16_t> ports_in_use(const std::string& etc_root);

// The first port >= base that is neither in `taken` nor bound by someone; 503 when none
// is left below 65536.
Result<std::uint16_t> pick_port(std::uint16_t base, const std::set<std::uint16_t>& taken);

}  // namespace portal::instance

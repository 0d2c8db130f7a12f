// The clock identity code measures TTLs and lock delays with. Callers pass time points
// in, so tests drive time with a fake clock.
#pragma once

#include <chrono>

namespace portal::identity {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

}  // namespace portal::identity

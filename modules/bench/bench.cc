// bench: the smallest possible handler, so portal-bench measures Portal and not a module.
// With header `stamp`, the answer is the CLOCK_MONOTONIC time (ns) at which the handler
// ran, so portal-bench can split a round trip into "to the module" and "back".
#include <time.h>

#include <string>

#include "portal/module.h"

namespace {

std::string monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::to_string(static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
}

class BenchModule final : public portal::Module {
 public:
  portal::Status load(portal::Core& core) override {
    return core.register_path({"/bench/echo", "Returns the request body", {}, portal::Access::read},
                              [](const portal::Message& m) {
                                if (m.header("stamp")) return portal::respond(portal::status::ok, monotonic_ns());
                                return portal::respond(portal::status::ok, m.body);
                              });
  }
};

}  // namespace

PORTAL_MODULE(BenchModule, "bench", "1.0.0", "Echo target for portal-bench")

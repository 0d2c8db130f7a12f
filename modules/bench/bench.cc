// bench: the smallest possible handler, so portal-bench measures Portal and not a module.
#include "portal/module.h"

namespace {

class BenchModule final : public portal::Module {
 public:
  portal::Status load(portal::Core& core) override {
    return core.register_path({"/bench/echo", "Returns the request body", {}, portal::Access::read},
                              [](const portal::Message& m) { return portal::respond(portal::status::ok, m.body); });
  }
};

}  // namespace

PORTAL_MODULE(BenchModule, "bench", "1.0.0", "Echo target for portal-bench")

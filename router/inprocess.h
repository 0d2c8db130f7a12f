// A trusted module running inside the router (isolation = inprocess, DESIGN.md 4): the same
// ModuleRuntime as a worker, driven by a small thread pool of the router's, each handler call
// under the per-thread crash guard. A crash disables the module; the router keeps serving.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "host/loader.h"
#include "host/runtime.h"
#include "router/module_link.h"

namespace portal::router {

class InprocessModule final : public ModuleLink {
 public:
  // `sink` receives the module's envelopes on the router loop; `crashed` runs there too.
  static Result<std::unique_ptr<InprocessModule>> create(EventLoop& loop, const pb::LoadInprocess& l,
                                                         EnvelopeSink sink, std::function<void(std::string)> crashed);
  ~InprocessModule() override;

  bool deliver(const pb::Envelope& env) override;
  std::size_t backlog() const override;
  void flush() override {}

 private:
  InprocessModule(EventLoop& loop, std::string name, std::uint64_t generation);
  class LoopUplink;  // the runtime's way back to the router loop; may outlive this object
  struct Pool;  // shared with the pool threads, so a thread stuck in a handler never outlives it
  static void worker_loop(const std::shared_ptr<Pool>& pool);

  EventLoop& loop_;
  EnvelopeSink sink_;
  std::function<void(std::string)> crashed_;
  std::shared_ptr<bool> alive_;
  std::unique_ptr<host::Uplink> uplink_;
  std::unique_ptr<host::ModuleLibrary> library_;
  std::unique_ptr<host::ModuleRuntime> runtime_;
  std::shared_ptr<Pool> pool_;
  std::vector<std::thread> threads_;
};

}  // namespace portal::router

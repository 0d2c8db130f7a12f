// How the router reaches one module incarnation: a worker's ring (or, for the benchmark
// baseline, a Unix socket), or an in-process module's thread pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ipc/endpoint.h"
#include "portal.pb.h"
#include "router/event_loop.h"

namespace portal::router {

class ModuleLink {
 public:
  virtual ~ModuleLink() = default;
  // Hands one envelope to the module; never blocks (a full ring queues). False when the
  // envelope is larger than a channel carries (ipc::kMaxMessageBytes): nothing was sent.
  virtual bool deliver(const pb::Envelope& env) = 0;
  // Envelopes accepted but not yet on the ring.
  virtual std::size_t backlog() const = 0;
  // End of a batch: push queued data and wake the module if it sleeps.
  virtual void flush() = 0;
  // Spinning: processes what the module sent if anything is there; true when it did.
  virtual bool probe() { return false; }
  // Before the loop blocks: arms the doorbell; false (after processing it) when data came.
  virtual bool arm() { return true; }
  std::uint64_t generation() const { return generation_; }
  const std::string& module() const { return module_; }

 protected:
  ModuleLink(std::string module, std::uint64_t generation)
      : module_(std::move(module)), generation_(generation) {}
  std::string module_;
  std::uint64_t generation_;
};

// Called for every envelope a module sends; `link` identifies module and generation.
using EnvelopeSink = std::function<void(ModuleLink& link, pb::Envelope& env)>;
// Called when a link breaks (corrupt record, closed socket).
using BrokenSink = std::function<void(ModuleLink& link, const std::string& why)>;
// Called after each drained batch so the router can flush every link it wrote to.
using BatchDone = std::function<void()>;

class WorkerLink final : public ModuleLink {
 public:
  WorkerLink(EventLoop& loop, std::string module, std::uint64_t generation, std::unique_ptr<ipc::Endpoint> endpoint,
             EnvelopeSink sink, BrokenSink broken, BatchDone batch_done);
  ~WorkerLink() override;

  void start();  // begins watching the worker's doorbell and reads what is already there
  bool deliver(const pb::Envelope& env) override;
  std::size_t backlog() const override { return endpoint_->queued(); }
  void flush() override;
  bool probe() override;
  bool arm() override;

 private:
  void on_bell();
  void process();  // drains up to one batch, flushes, reports the batch done

  EventLoop& loop_;
  std::unique_ptr<ipc::Endpoint> endpoint_;
  EnvelopeSink sink_;
  BrokenSink broken_;
  BatchDone batch_done_;
  pb::Envelope scratch_;
  std::shared_ptr<bool> alive_;
  bool broken_flag_ = false;
  bool watching_ = false;
};

}  // namespace portal::router

#include "router/inprocess.h"

#include <unistd.h>

#include <chrono>

namespace portal::router {

struct InprocessModule::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::condition_variable exited;
  std::deque<pb::Envelope> queue;
  bool stopping = false;
  unsigned running = 0;
  host::ModuleRuntime* runtime = nullptr;
};

// Posts the module's envelopes to the router loop, where they reach the sink only while the
// module is still loaded. Leaked together with a runtime whose handler never returned.
class InprocessModule::LoopUplink final : public host::Uplink {
 public:
  LoopUplink(EventLoop& loop, std::shared_ptr<bool> alive, InprocessModule* owner)
      : loop_(loop), alive_(std::move(alive)), owner_(owner) {}
  void send(pb::Envelope&& env) override {
    auto shared = std::make_shared<pb::Envelope>(std::move(env));
    loop_.post([alive = alive_, owner = owner_, shared] {
      if (*alive) owner->sink_(*owner, *shared);
    });
  }

 private:
  EventLoop& loop_;
  std::shared_ptr<bool> alive_;
  InprocessModule* owner_;
};

namespace {
// How long unloading waits for handlers still running before it gives up on them.
constexpr std::chrono::seconds kUnloadGrace{2};
}  // namespace

InprocessModule::InprocessModule(EventLoop& loop, std::string name, std::uint64_t generation)
    : ModuleLink(std::move(name), generation),
      loop_(loop),
      alive_(std::make_shared<bool>(true)),
      pool_(std::make_shared<Pool>()) {}

Result<std::unique_ptr<InprocessModule>> InprocessModule::create(EventLoop& loop,
                                                                 const pb::LoadInprocess& l, EnvelopeSink sink,
                                                                 std::function<void(std::string)> crashed) {
  const pb::ModuleStatus& st = l.status();
  std::unique_ptr<InprocessModule> m(new InprocessModule(loop, st.name(), st.generation()));
  m->sink_ = std::move(sink);
  m->crashed_ = std::move(crashed);
  auto lib = host::ModuleLibrary::open(l.library());
  if (!lib) return lib.error();
  if (st.name() != (*lib)->info().name)
    return make_error(500, l.library() + " declares module '" + (*lib)->info().name + "'");
  m->library_ = std::move(*lib);

  host::RuntimeOptions o;
  o.module_name = st.name();
  o.version = m->library_->info().version;
  o.description = m->library_->info().description;
  o.generation = st.generation();
  o.config = {l.config().begin(), l.config().end()};
  o.crash_guard = true;
  InprocessModule* self = m.get();
  o.on_crash = [&loop, self, alive = m->alive_](const std::string& why) {
    loop.post([self, alive, why] {
      if (*alive) self->crashed_(why);
    });
  };
  m->uplink_ = std::make_unique<LoopUplink>(loop, m->alive_, m.get());
  m->runtime_ = std::make_unique<host::ModuleRuntime>(std::move(o), *m->uplink_);
  Status s = m->runtime_->start(m->library_->create());
  if (!s) return s.error();
  unsigned threads = st.threads() ? st.threads() : 2;
  m->pool_->runtime = m->runtime_.get();
  m->pool_->running = threads;
  for (unsigned i = 0; i < threads; ++i) m->threads_.emplace_back([pool = m->pool_] { worker_loop(pool); });
  m->runtime_->announce(::getpid());  // the hello, then subscriptions made in load()
  return m;
}

InprocessModule::~InprocessModule() {
  *alive_ = false;
  bool all_exited;
  {
    std::unique_lock lock(pool_->mu);
    pool_->stopping = true;
    pool_->cv.notify_all();
    all_exited = pool_->exited.wait_for(lock, kUnloadGrace, [this] { return pool_->running == 0; });
  }
  for (auto& t : threads_) {
    if (all_exited) t.join();
    else t.detach();
  }
  if (!all_exited || (runtime_ && runtime_->crashed())) {
    // A handler that never returns, or code that crashed, may still hold the module's
    // state: never call into it again and keep it and its library alive for good.
    (void)runtime_.release();
    (void)uplink_.release();
    (void)library_.release();
    return;
  }
  if (runtime_) runtime_->stop();
  runtime_.reset();
}

bool InprocessModule::deliver(const pb::Envelope& env) {
  // Answers to the module's own calls complete at once: they run no module code, and the
  // pool threads may all be blocked in send() waiting for exactly these.
  if (env.has_response() || env.has_attach() || env.has_event()) {
    runtime_->handle(env);
    return true;
  }
  {
    std::lock_guard lock(pool_->mu);
    pool_->queue.push_back(env);
  }
  pool_->cv.notify_one();
  return true;
}

std::size_t InprocessModule::backlog() const {
  std::lock_guard lock(pool_->mu);
  return pool_->queue.size();
}


void InprocessModule::worker_loop(const std::shared_ptr<Pool>& pool) {
  for (;;) {
    pb::Envelope env;
    {
      std::unique_lock lock(pool->mu);
      pool->cv.wait(lock, [&] { return pool->stopping || !pool->queue.empty(); });
      if (pool->stopping) {
        if (--pool->running == 0) pool->exited.notify_all();
        return;
      }
      env = std::move(pool->queue.front());
      pool->queue.pop_front();
    }
    pool->runtime->handle(env);
  }
}

}  // namespace portal::router

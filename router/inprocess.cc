#include "router/inprocess.h"

#include <unistd.h>

namespace portal::router {

InprocessModule::InprocessModule(EventLoop& loop, std::string name, std::uint64_t generation)
    : ModuleLink(std::move(name), generation), loop_(loop), alive_(std::make_shared<bool>(true)) {}

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
  o.on_crash = [self, alive = m->alive_](const std::string& why) {
    self->loop_.post([self, alive, why] {
      if (*alive) self->crashed_(why);
    });
  };
  m->runtime_ = std::make_unique<host::ModuleRuntime>(std::move(o), static_cast<host::Uplink&>(*m));
  Status s = m->runtime_->start(m->library_->create());
  if (!s) return s.error();
  unsigned threads = st.threads() ? st.threads() : 2;
  for (unsigned i = 0; i < threads; ++i) m->threads_.emplace_back([self] { self->worker_loop(); });
  self->send(m->runtime_->hello(::getpid()));
  return m;
}

InprocessModule::~InprocessModule() {
  *alive_ = false;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  if (runtime_ && runtime_->crashed()) {
    // Code that crashed may have left its own state broken: never call into it again,
    // and keep its library mapped (a thread of it might still hold a pointer into it).
    (void)runtime_.release();
    (void)library_.release();
    return;
  }
  if (runtime_) runtime_->stop();
  runtime_.reset();
}

bool InprocessModule::deliver(const pb::Envelope& env) {
  // Answers to the module's own calls complete at once: they run no module code, and the
  // pool threads may all be blocked in send() waiting for exactly these.
  if (env.has_response() || env.has_attach()) {
    runtime_->handle(env);
    return true;
  }
  {
    std::lock_guard lock(mu_);
    queue_.push_back(env);
  }
  cv_.notify_one();
  return true;
}

std::size_t InprocessModule::backlog() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void InprocessModule::send(pb::Envelope&& env) {
  auto shared = std::make_shared<pb::Envelope>(std::move(env));
  loop_.post([this, alive = alive_, shared] {
    if (*alive) sink_(*this, *shared);
  });
}

void InprocessModule::worker_loop() {
  for (;;) {
    pb::Envelope env;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      env = std::move(queue_.front());
      queue_.pop_front();
    }
    runtime_->handle(env);
  }
}

}  // namespace portal::router

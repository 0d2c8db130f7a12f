#include "worker/worker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace portal::worker {

using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kMaxExtraThreads = 64;  // threads started while others wait in send()
constexpr std::uint32_t kBellEvent = 0;
constexpr std::uint32_t kPokeEvent = 1;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

template <class T>
void erase_one(std::vector<T*>& v, T* p) {
  auto it = std::find(v.begin(), v.end(), p);
  if (it != v.end()) v.erase(it);
}

}  // namespace

struct Worker::Sleeper {
  const Worker* owner = nullptr;
  ipc::UniqueFd epoll;
  ipc::UniqueFd poke;  // eventfd: a hand-off, stop, or (in wait()) a completed call
  bool rung = false;   // woke on the doorbell: drain it at the next turn
};

namespace {

// The pool thread running on this thread, if any (only they take turns while waiting).
thread_local void* t_sleeper = nullptr;

}  // namespace

Worker::Worker(std::unique_ptr<ipc::Endpoint> endpoint, WorkerOptions options)
    : ep_(std::move(endpoint)), opts_(std::move(options)), topic_("worker." + opts_.module) {
  if (opts_.threads == 0) opts_.threads = 1;
}

Worker::~Worker() {
  if (!stop(std::chrono::milliseconds(0))) {
    for (auto& t : threads_) t.detach();  // still in a handler: the process is exiting anyway
  }
}

void Worker::start() {
  std::lock_guard lock(mu_);
  for (unsigned i = 0; i < opts_.threads; ++i) spawn_thread_locked();
}

void Worker::spawn_thread_locked() {
  ++running_;
  threads_.emplace_back([this] { thread_main(); });
  std::string name = ("w:" + opts_.module).substr(0, 15);
  ::pthread_setname_np(threads_.back().native_handle(), name.c_str());
}

bool Worker::stop(std::chrono::milliseconds grace) {
  std::unique_lock lock(mu_);
  stopping_.store(true);
  for (Sleeper* s : idle_) ipc::Doorbell::ring(s->poke.get());
  bool ended = exited_cv_.wait_for(lock, grace, [this] { return running_ == 0; });
  if (!ended) return false;
  std::vector<std::thread> threads = std::move(threads_);
  threads_.clear();
  lock.unlock();
  for (auto& t : threads) t.join();
  return true;
}

// --- handler threads --------------------------------------------------------------------------

// A thread's own epoll set: the doorbell (exclusive: one ring wakes one sleeper) and its poke.
void Worker::open_sleeper(Sleeper& self) {
  self.owner = this;
  self.epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  self.poke.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!self.epoll || !self.poke) {
    log::error(topic_, std::string("cannot set up a handler thread: ") + std::strerror(errno));
    std::_Exit(1);
  }
  epoll_event bell{EPOLLIN | EPOLLEXCLUSIVE, {.u32 = kBellEvent}};
  if (::epoll_ctl(self.epoll.get(), EPOLL_CTL_ADD, ep_->wait_fd(), &bell) != 0) {
    bell.events = EPOLLIN;  // a kernel without EPOLLEXCLUSIVE: every idle thread wakes
    ::epoll_ctl(self.epoll.get(), EPOLL_CTL_ADD, ep_->wait_fd(), &bell);
  }
  epoll_event poke{EPOLLIN, {.u32 = kPokeEvent}};
  ::epoll_ctl(self.epoll.get(), EPOLL_CTL_ADD, self.poke.get(), &poke);
}

void Worker::thread_main() {
  Sleeper self;
  open_sleeper(self);
  t_sleeper = &self;

  pb::Envelope env;  // reused: parsing into it keeps its buffers
  for (;;) {
    if (!self.rung && handoff_size_.load() > 0) {
      if (std::unique_ptr<pb::Envelope> job = take_handoff()) {
        dispatch(*job);
        continue;
      }
    }
    Turn t = take_turn(self, env, std::nullopt);
    if (t == Turn::record) dispatch(env);
    if (t == Turn::stopped) break;
  }
  while (std::unique_ptr<pb::Envelope> job = take_handoff()) dispatch(*job);  // accepted already
  t_sleeper = nullptr;
  std::lock_guard lock(mu_);
  erase_one(idle_, &self);
  idle_count_.store(idle_.size());
  --running_;
  exited_cv_.notify_all();
}

std::unique_ptr<pb::Envelope> Worker::take_handoff() {
  std::lock_guard lock(mu_);
  if (handoff_.empty()) return nullptr;
  std::unique_ptr<pb::Envelope> job = std::move(handoff_.front());
  handoff_.pop_front();
  handoff_size_.store(handoff_.size());
  return job;
}

void Worker::dispatch(const pb::Envelope& env) {
  switch (env.kind_case()) {
    case pb::Envelope::kRequest:
      runtime_->handle(env);
      return;
    case pb::Envelope::kResponse:
    case pb::Envelope::kAttach:
    case pb::Envelope::kConfig:
      runtime_->handle(env);
      if (waiter_count_.load() > 0) {  // a thread in send() may be waiting for exactly this
        std::lock_guard lock(mu_);
        for (Sleeper* w : waiters_) ipc::Doorbell::ring(w->poke.get());
      }
      return;
    case pb::Envelope::kEvent:  // normally handled in take_turn(), in ring order
      runtime_->handle(env);
      return;
    case pb::Envelope::kDrain:
      if (on_drain_) on_drain_(env.drain().deadline_ms());
      return;
    default:
      log::warn(topic_, "ignoring an envelope a router never sends to a worker");
      return;
  }
}

// --- turns at the endpoint ------------------------------------------------------------------------

// Takes the reader role and pops one record, or arms the doorbell and sleeps.
Worker::Turn Worker::take_turn(Sleeper& self, pb::Envelope& env, Deadline deadline) {
  std::unique_lock role(reader_mu_);
  if (self.rung) {
    ep_->woke();
    self.rung = false;
  }
  Clock::time_point spin_until{};
  for (;;) {
    if (!deadline && stopping_.load()) return Turn::stopped;  // records left: the router fails them
    std::span<const std::byte> rec;
    std::string why;
    ipc::ReadStatus st = ep_->receive(rec, &why);
    if (st == ipc::ReadStatus::corrupt) protocol_error("corrupt record from the router: " + why);
    if (st == ipc::ReadStatus::record) {
      bool ok = env.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
      ep_->release();
      if (!ok) protocol_error("unparsable envelope from the router");
      if (env.has_event()) {
        // Deliveries of one subscription must reach the event loop in ring order, which
        // threads racing to dispatch would not keep. handle() only posts them: do it here,
        // still holding the reader role, and read on.
        runtime_->handle(env);
        continue;
      }
      // While this thread runs the handler, a new record must wake an idle thread: arm the
      // doorbell, or poke one if more is there already. With nobody idle, leave it: this
      // thread comes back, and the router saves its doorbell writes under load.
      bool more = idle_count_.load() > 0 && !ep_->prepare_sleep();
      role.unlock();
      if (more) {
        std::lock_guard lock(mu_);
        poke_idle_locked();
      }
      return Turn::record;
    }
    if (deadline && Clock::now() >= *deadline) return Turn::timed_out;
    if (backlog_.load()) flush_writes();
    if (opts_.busy_poll.count() > 0) {
      Clock::time_point now = Clock::now();
      if (spin_until == Clock::time_point{}) spin_until = now + opts_.busy_poll;
      if (now < spin_until) {
        cpu_relax();
        continue;
      }
    }
    if (!ep_->prepare_sleep()) continue;
    role.unlock();
    return sleep(self, deadline) ? Turn::slept : Turn::timed_out;
  }
}

// Sleeps until the doorbell rings, a poke, or the deadline; false when the deadline passed.
bool Worker::sleep(Sleeper& self, Deadline deadline) {
  {
    std::lock_guard lock(mu_);
    if (!deadline) {
      if (stopping_.load() || !handoff_.empty()) return true;  // something to do: no sleep
      idle_.push_back(&self);
      idle_count_.store(idle_.size());
    }
  }
  {
    // Arm the doorbell again now that we are counted idle: between our prepare_sleep() and
    // joining idle_, a thread that woke earlier may have cleared the sleeping flag (woke())
    // and, seeing nobody idle, not re-armed it — the router would then never ring us.
    std::lock_guard role(reader_mu_);
    if (!ep_->prepare_sleep()) {
      if (!deadline) {
        std::lock_guard lock(mu_);
        erase_one(idle_, &self);
        idle_count_.store(idle_.size());
      }
      return true;  // a record arrived meanwhile: take a turn instead of sleeping
    }
  }
  int timeout_ms = -1;
  if (deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    timeout_ms = static_cast<int>(std::max<long long>(0, left));
  }
  bool bell = false, poked = false;
  int n;
  if (opts_.stream_transport && backlog_.load()) {
    // The socket must also wake us when it can take our queued writes.
    pollfd fds[2] = {{ep_->wait_fd(), POLLIN | POLLOUT, 0}, {self.poke.get(), POLLIN, 0}};
    do n = ::poll(fds, 2, timeout_ms);
    while (n < 0 && errno == EINTR);
    bell = n > 0 && fds[0].revents;
    poked = n > 0 && fds[1].revents;
  } else {
    epoll_event evs[2];
    do n = ::epoll_wait(self.epoll.get(), evs, 2, timeout_ms);
    while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; ++i) (evs[i].data.u32 == kBellEvent ? bell : poked) = true;
  }
  if (n < 0) protocol_error(std::string("epoll_wait: ") + std::strerror(errno));
  if (!deadline) {
    std::lock_guard lock(mu_);
    erase_one(idle_, &self);
    idle_count_.store(idle_.size());
  }
  if (poked) ipc::Doorbell::drain(self.poke.get());
  self.rung = self.rung || bell;
  return n > 0 || !deadline;
}

void Worker::poke_idle_locked() {
  if (idle_.empty()) return;
  Sleeper* s = idle_.back();  // the most recently idle: its cache is the warmest
  idle_.pop_back();
  idle_count_.store(idle_.size());
  ipc::Doorbell::ring(s->poke.get());
}

// --- waiting in send() ----------------------------------------------------------------------------

bool Worker::wait(const std::function<bool()>& done, Clock::time_point deadline) {
  auto* self = static_cast<Sleeper*>(t_sleeper);
  if (!self || self->owner != this) return false;  // module-owned threads: the runtime waits
  {
    std::lock_guard lock(mu_);
    waiters_.push_back(self);
    waiter_count_.store(waiters_.size());
  }
  pb::Envelope env;
  while (!done() && Clock::now() < deadline)
    if (take_turn(*self, env, deadline) == Turn::record) dispatch_while_waiting(env);
  std::lock_guard lock(mu_);
  erase_one(waiters_, self);
  waiter_count_.store(waiters_.size());
  return true;
}

void Worker::dispatch_while_waiting(pb::Envelope& env) {
  if (env.has_response() || env.has_attach()) {
    dispatch(env);  // the runtime's own bookkeeping: no module code runs
    return;
  }
  // Requests and config changes run module code: never nested in this handler's stack.
  std::lock_guard lock(mu_);
  handoff_.push_back(std::make_unique<pb::Envelope>(std::move(env)));
  handoff_size_.store(handoff_.size());
  if (!idle_.empty())
    poke_idle_locked();
  else if (threads_.size() < opts_.threads + kMaxExtraThreads)
    spawn_thread_locked();
}

// --- writing ----------------------------------------------------------------------------------------

void Worker::send(pb::Envelope&& env) {
  std::string payload;
  if (env.ByteSizeLong() > ipc::kMaxMessageBytes && env.has_response()) {
    // The router would take an oversized record for a broken channel: answer an error.
    log::warn(topic_, "response larger than a channel carries; answering 500 instead");
    std::uint64_t id = env.response().id();
    env.Clear();
    env.mutable_response()->set_id(id);
    env.mutable_response()->set_status(500);
    env.mutable_response()->set_body("Response too large for a channel\n");
  }
  if (env.ByteSizeLong() > ipc::kMaxMessageBytes || !env.SerializeToString(&payload)) {
    log::error(topic_, "envelope larger than a channel carries; dropped");
    return;
  }
  std::lock_guard lock(writer_mu_);
  // Say "backlog" before the ring can fill: once send() has asked the router to ring us
  // for space, a ring thread woken by that bell must find the flag set, or it goes back
  // to sleep and the rest of this payload waits forever.
  backlog_.store(true);
  if (ep_->queued() > 0) ep_->flush();
  ep_->send(std::move(payload));
  ep_->notify();
  backlog_.store(ep_->queued() > 0);
}

void Worker::flush_writes() {
  std::lock_guard lock(writer_mu_);
  ep_->flush();
  ep_->notify();
  backlog_.store(ep_->queued() > 0);
}

bool Worker::flush(std::chrono::milliseconds max) {
  auto until = Clock::now() + max;
  for (;;) {
    flush_writes();
    if (!backlog_.load()) return true;
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

[[noreturn]] void Worker::protocol_error(const std::string& why) {
  log::error(topic_, why + "; exiting");
  std::_Exit(70);  // EX_SOFTWARE: the supervisor restarts us on a fresh channel
}

}  // namespace portal::worker

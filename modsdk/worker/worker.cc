#include "worker/worker.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace portal::worker {

using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kMaxExtraThreads = 64;  // threads started while others wait in send()

// Set on the pool's threads: only they may read the endpoint while waiting in send().
thread_local bool t_pool_thread = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

Worker::Worker(std::unique_ptr<ipc::Endpoint> endpoint, WorkerOptions options)
    : ep_(std::move(endpoint)), opts_(std::move(options)), topic_("worker." + opts_.module) {
  if (opts_.threads == 0) opts_.threads = 1;
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
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
  stopping_ = true;
  cv_.notify_all();
  if (stop_fd_) ipc::Doorbell::ring(stop_fd_.get());
  bool ended = exited_cv_.wait_for(lock, grace, [this] { return running_ == 0; });
  if (!ended) return false;
  std::vector<std::thread> threads = std::move(threads_);
  threads_.clear();
  lock.unlock();
  for (auto& t : threads) t.join();
  return true;
}

// --- handler threads --------------------------------------------------------------------------

void Worker::thread_main() {
  t_pool_thread = true;
  pb::Envelope env;  // reused: parsing into it keeps its buffers
  for (;;) {
    std::unique_ptr<pb::Envelope> job;
    {
      std::unique_lock lock(mu_);
      ++idle_;
      cv_.wait(lock, [this] { return !handoff_.empty() || stopping_ || !reader_busy_; });
      --idle_;
      if (!handoff_.empty()) {
        job = std::move(handoff_.front());
        handoff_.pop_front();
        if (!reader_busy_) cv_.notify_one();  // the free reader role goes to someone else
      } else if (stopping_) {
        break;
      } else {
        reader_busy_ = true;
      }
    }
    if (job) {
      dispatch(*job);
      continue;
    }
    Read r = read_one(env, std::nullopt);
    release_reader();
    if (r == Read::record) dispatch(env);
  }
  std::lock_guard lock(mu_);
  --running_;
  exited_cv_.notify_all();
}

void Worker::release_reader() {
  {
    std::lock_guard lock(mu_);
    reader_busy_ = false;
  }
  cv_.notify_one();
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
      // A thread waiting in send() may be waiting for exactly this.
      if (waiting_.load() > 0) {
        std::lock_guard lock(mu_);
        cv_.notify_all();
      }
      return;
    case pb::Envelope::kDrain:
      if (on_drain_) on_drain_(env.drain().deadline_ms());
      return;
    default:
      log::warn(topic_, "ignoring an envelope a router never sends to a worker");
      return;
  }
}

// --- reading ------------------------------------------------------------------------------------

Worker::Read Worker::read_one(pb::Envelope& env, Deadline deadline) {
  Clock::time_point spin_until{};
  for (;;) {
    std::span<const std::byte> rec;
    std::string why;
    ipc::ReadStatus st = ep_->receive(rec, &why);
    if (st == ipc::ReadStatus::corrupt) protocol_error("corrupt record from the router: " + why);
    if (st == ipc::ReadStatus::record) {
      bool ok = env.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
      ep_->release();
      if (!ok) protocol_error("unparsable envelope from the router");
      return Read::record;
    }
    if (!deadline) {
      if (stopping_.load()) return Read::stopped;
    } else if (Clock::now() >= *deadline) {
      return Read::timed_out;
    }
    if (backlog_.load()) flush_writes();
    if (opts_.busy_poll.count() > 0) {
      Clock::time_point now = Clock::now();
      if (spin_until == Clock::time_point{}) spin_until = now + opts_.busy_poll;
      if (now < spin_until) {
        cpu_relax();
        continue;
      }
    }
    if (!sleep_until_ready(deadline)) return Read::timed_out;
    spin_until = {};
  }
}

// Sleeps on the doorbell (and the stop fd) until woken; false when the deadline passed.
bool Worker::sleep_until_ready(Deadline deadline) {
  if (!ep_->prepare_sleep()) return true;
  int timeout_ms = -1;
  if (deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    timeout_ms = static_cast<int>(std::max<long long>(0, left));
  }
  pollfd fds[2];
  short events = POLLIN;
  if (opts_.stream_transport && backlog_.load()) events |= POLLOUT;
  fds[0] = {ep_->wait_fd(), events, 0};
  // Waiters in send() ignore the stop fd (it stays readable): they still need their answer.
  fds[1] = {stop_fd_.get(), POLLIN, 0};
  int n;
  do {
    n = ::poll(fds, deadline ? 1 : 2, timeout_ms);
  } while (n < 0 && errno == EINTR);
  ep_->woke();
  if (n < 0) protocol_error(std::string("poll: ") + std::strerror(errno));
  return n > 0 || !deadline;
}

// --- waiting in send() ----------------------------------------------------------------------------

bool Worker::wait(const std::function<bool()>& done, Clock::time_point deadline) {
  if (!t_pool_thread) return false;  // module-owned threads: the runtime waits on its own
  pb::Envelope env;
  std::unique_lock lock(mu_);
  waiting_.fetch_add(1);
  while (!done() && Clock::now() < deadline) {
    if (reader_busy_) {
      cv_.wait_until(lock, deadline, [&] { return done() || !reader_busy_; });
      continue;
    }
    reader_busy_ = true;
    lock.unlock();
    Read r = read_one(env, deadline);
    release_reader();
    if (r == Read::record) dispatch_while_waiting(env);
    lock.lock();
  }
  waiting_.fetch_sub(1);
  bool role_free = !reader_busy_;
  lock.unlock();
  if (role_free) cv_.notify_one();  // pass on a wake-up this waiter may have taken
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
  if (idle_ == 0 && threads_.size() < opts_.threads + kMaxExtraThreads) spawn_thread_locked();
  cv_.notify_all();
}

// --- writing ----------------------------------------------------------------------------------------

void Worker::send(pb::Envelope&& env) {
  std::string payload;
  if (!env.SerializeToString(&payload)) {
    log::error(topic_, "cannot serialize an envelope (too large?); dropped");
    return;
  }
  std::lock_guard lock(writer_mu_);
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

#include "router/event_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/util.h"

namespace portal::router {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

[[noreturn]] void fail(const char* what) { throw std::runtime_error(std::string(what) + ": " + std::strerror(errno)); }

}  // namespace

EventLoop::EventLoop()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (!epoll_ || !wake_ || !timer_) fail("event loop");
  watch(wake_.get(), [this] {
    ipc::Doorbell::drain_nonblocking(wake_.get());
    run_posted();
  });
  watch(timer_.get(), [this] {
    std::uint64_t n;
    while (::read(timer_.get(), &n, sizeof n) < 0 && errno == EINTR) {
    }
    if (timer_fn_) {
      Callback fn = std::move(timer_fn_);
      timer_fn_ = nullptr;
      fn();
    }
  });
}

EventLoop::~EventLoop() = default;

void EventLoop::watch(int fd, Callback fn) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  bool known = watched_.count(fd) != 0;
  watched_[fd] = std::make_shared<Callback>(std::move(fn));
  if (::epoll_ctl(epoll_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
}

void EventLoop::unwatch(int fd) {
  if (watched_.erase(fd)) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::post(Callback fn) {
  {
    std::lock_guard lock(post_mu_);
    posted_.push_back(std::move(fn));
  }
  ipc::Doorbell::ring(wake_.get());
}

void EventLoop::run_posted() {
  std::vector<Callback> batch;
  {
    std::lock_guard lock(post_mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

void EventLoop::set_timer(std::uint64_t mono_us, Callback fn) {
  timer_fn_ = std::move(fn);
  itimerspec its{};
  if (mono_us == 0) mono_us = 1;  // 0 would disarm
  its.it_value.tv_sec = static_cast<time_t>(mono_us / 1000000);
  its.it_value.tv_nsec = static_cast<long>((mono_us % 1000000) * 1000);
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr) != 0) fail("timerfd_settime");
}

void EventLoop::on_signals(const std::vector<int>& signals, std::function<void(int)> fn) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_) fail("signalfd");
  signal_fn_ = std::move(fn);
  watch(signal_.get(), [this] {
    signalfd_siginfo si;
    while (::read(signal_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) signal_fn_(static_cast<int>(si.ssi_signo));
  });
}

void EventLoop::set_spin(std::chrono::microseconds spin, std::function<bool()> wanted, std::function<bool()> probe) {
  spin_ = spin;
  spin_wanted_ = std::move(wanted);
  spin_probe_ = std::move(probe);
}

bool EventLoop::spin_for_work() {
  if (spin_.count() <= 0 || !spin_wanted_ || !spin_wanted_()) return false;
  const std::uint64_t until = mono_us() + static_cast<std::uint64_t>(spin_.count());
  for (unsigned i = 0;; ++i) {
    if (spin_probe_()) return true;
    if ((i & 63) == 63 && mono_us() >= until) return false;
    cpu_relax();
  }
}

void EventLoop::run() {
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (!stopped_) {
    if (spin_for_work()) continue;
    if (may_sleep_ && !may_sleep_()) continue;
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < n && !stopped_; ++i) {
      auto it = watched_.find(events[i].data.fd);
      if (it == watched_.end()) continue;
      std::shared_ptr<Callback> fn = it->second;  // the callback may unwatch its own fd
      (*fn)();
    }
  }
}

}  // namespace portal::router

// The engine of portal-worker: drives one ModuleRuntime from an ipc::Endpoint.
//
// Handler threads share the endpoint leader/follower style (docs/ARCHITECTURE.md): a thread
// takes the reader role, pops one record, re-arms the doorbell, gives the role up and runs
// the handler itself — no hand-off between threads on the hot path. Nobody holds the role
// while asleep: idle threads sleep in their own epoll set, where the doorbell is registered
// EPOLLEXCLUSIVE, so one ring wakes one thread, and only when a record arrives while the
// others are busy. A run of requests one at a time costs one wake-up each, however many
// threads there are.
//
// A handler thread blocked in Core::send() keeps taking turns at the endpoint while it waits
// (Uplink::wait): it completes responses itself and hands requests and config changes to an
// idle thread (started on demand), so module code never runs nested inside another handler
// and a module whose every thread waits cannot deadlock.
//
// Event deliveries are the exception to "the reader runs it": the reading thread hands each
// to the runtime (a post to the module's event loop) before it reads on, so one
// subscription's events keep their ring order.
//
// Writes never block: what does not fit in the ring is queued (RingEndpoint) and flushed by
// the next writer or by a reader before it sleeps; the router rings our doorbell when it
// frees space, because the endpoint set producer_waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "host/runtime.h"
#include "ipc/channel.h"
#include "ipc/endpoint.h"

namespace portal::worker {

struct WorkerOptions {
  unsigned threads = 1;                    // handler threads (more start while some wait in send())
  std::chrono::microseconds busy_poll{0};  // spin this long on an empty ring before sleeping
  bool stream_transport = false;           // uds: also wait for POLLOUT while writes are queued
  std::string module;                      // for thread names and log lines
};

class Worker final : public host::Uplink {
 public:
  Worker(std::unique_ptr<ipc::Endpoint> endpoint, WorkerOptions options);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The runtime whose envelopes this worker carries; set before start().
  void set_runtime(host::ModuleRuntime& runtime) { runtime_ = &runtime; }
  // Runs on a handler thread when the router sends Drain.
  void on_drain(std::function<void(std::uint32_t deadline_ms)> fn) { on_drain_ = std::move(fn); }

  void start();
  // Stops taking records and waits up to `grace` for the handler threads to finish.
  // False when some are still busy (they are left running).
  bool stop(std::chrono::milliseconds grace);
  // Pushes queued writes, waiting up to `max` for the router to make room.
  bool flush(std::chrono::milliseconds max);

  // host::Uplink
  void send(pb::Envelope&& env) override;
  bool wait(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) override;

 private:
  struct Sleeper;  // a pool thread's epoll set and poke eventfd
  enum class Turn { record, slept, stopped, timed_out };
  using Deadline = std::optional<std::chrono::steady_clock::time_point>;

  void thread_main();
  void open_sleeper(Sleeper& self);
  void spawn_thread_locked();
  Turn take_turn(Sleeper& self, pb::Envelope& env, Deadline deadline);
  bool sleep(Sleeper& self, Deadline deadline);
  void poke_idle_locked();
  std::unique_ptr<pb::Envelope> take_handoff();
  void dispatch(const pb::Envelope& env);
  void dispatch_while_waiting(pb::Envelope& env);
  void flush_writes();
  [[noreturn]] void protocol_error(const std::string& why);

  std::unique_ptr<ipc::Endpoint> ep_;
  WorkerOptions opts_;
  std::string topic_;  // log topic: worker.<module>
  host::ModuleRuntime* runtime_ = nullptr;
  std::function<void(std::uint32_t)> on_drain_;

  // The reader role: the endpoint's consuming side. Held only while reading, never asleep.
  std::mutex reader_mu_;

  // Everything below mu_: sleeping threads, waiters, hand-offs, the thread list.
  std::mutex mu_;
  std::atomic<bool> stopping_{false};  // written under mu_
  std::vector<Sleeper*> idle_;         // pool threads asleep (or about to be)
  std::vector<Sleeper*> waiters_;      // threads inside wait()
  std::atomic<std::size_t> idle_count_{0};    // their sizes, for reads without mu_
  std::atomic<std::size_t> waiter_count_{0};
  std::deque<std::unique_ptr<pb::Envelope>> handoff_;
  std::atomic<std::size_t> handoff_size_{0};
  std::vector<std::thread> threads_;
  unsigned running_ = 0;
  std::condition_variable exited_cv_;

  std::mutex writer_mu_;
  std::atomic<bool> backlog_{false};  // writes queued in the endpoint
};

}  // namespace portal::worker

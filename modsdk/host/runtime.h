// ModuleRuntime: the host side of portal::Core for one loaded module, independent of how
// it reaches the router. portal-worker drives it from its ring threads; the router drives it
// for `isolation = inprocess` modules. It owns the module's path->handler table, its
// declared events and subscriptions, its outgoing calls, its timers and its event-loop
// thread; it does NOT own handler threads: the host calls handle() on whatever thread
// should run the handler.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "portal.pb.h"
#include "portal/module.h"

namespace portal::host {

// Where the runtime's outgoing envelopes go. send() is called from any thread, sometimes
// with the runtime's subscription lock held (so Subscribe and Unsubscribe keep their order):
// an uplink that answers inline, as tests do, may hand responses back to handle() at once,
// never event deliveries.
class Uplink {
 public:
  virtual ~Uplink() = default;
  virtual void send(pb::Envelope&& env) = 0;
  // Core::send() blocks here until done() is true or `deadline` passes. Return false to let
  // the runtime wait on its own (the default). A host whose handler threads also read the
  // transport overrides it so the waiting thread keeps reading: if every handler thread sat
  // in send(), nobody would read the responses. The host calls handle() for what it reads.
  virtual bool wait(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) {
    (void)done;
    (void)deadline;
    return false;
  }
};

struct RuntimeOptions {
  std::string module_name;  // from ModuleInfo
  std::string version;
  std::string description;
  std::uint64_t generation = 0;
  std::chrono::milliseconds call_timeout{30000};  // deadline of the module's outgoing calls
  std::map<std::string, std::string> config;      // the module's settings
  // Wrap each handler call in a per-thread sigsetjmp guard (in-process modules). A caught
  // SIGSEGV/SIGBUS/SIGFPE/SIGILL answers 500 "Module crashed\n" and calls on_crash once.
  bool crash_guard = false;
  std::function<void(const std::string& reason)> on_crash;
};

class ModuleRuntime final : public Core {
 public:
  ModuleRuntime(RuntimeOptions options, Uplink& uplink);
  ~ModuleRuntime() override;

  // Starts the event-loop thread and runs module->load(*this). On error the module is
  // unloaded again and the error returned (code kFatalConfig: do not respawn).
  Status start(std::unique_ptr<Module> module);
  // Runs unload(), removes every path and timer, fails pending calls, stops the loop.
  // The host stops its handler threads first, and destroys the runtime before the
  // ModuleLibrary (the event loop may still hold handlers from the module's code).
  void stop();

  // One envelope from the router. Requests run their handler on the calling thread and
  // answer through the uplink; responses complete pending calls; RouterAttach fails the
  // pending calls and announces again; ConfigUpdate updates config and notifies the module;
  // EventDelivery is posted to the event loop. Deliveries of one subscription reach the
  // module in the order handle() sees them: a host with several reading threads hands
  // event envelopes over in arrival order (handle() only looks up and posts; it never
  // blocks and runs no module code for them).
  void handle(const pb::Envelope& env);
  // The WorkerHello describing this module, every path it has registered and every event
  // it has declared. Paths and events added after the first hello() go to the router one
  // by one (RegisterPath, DeclareEvent).
  pb::Envelope hello(int pid) const;
  // Sends hello() through the uplink, then every subscription of the module: those made
  // before (load() may subscribe, but the router hears of them only after the hello) and,
  // after a router restart, the live ones again with the same ids. Hosts call this instead
  // of sending hello() themselves.
  void announce(int pid);
  bool crashed() const { return crashed_.load(); }
  std::uint64_t in_flight() const { return in_flight_.load(); }

  // portal::Core
  std::string_view module_name() const override { return opts_.module_name; }
  Status register_path(PathSpec spec, Handler handler) override;
  Status register_path_async(PathSpec spec, AsyncHandler handler) override;
  Status unregister_path(std::string_view path) override;
  Response send(Message msg) override;
  void send_async(Message msg, ResponseCallback done) override;
  std::optional<std::string> config(std::string_view key) const override;
  std::vector<std::string> config_keys() const override;
  void log(LogLevel level, std::string_view text) override;
  TimerId add_timer(std::chrono::milliseconds interval, std::function<void()> fn, bool repeat = true) override;
  bool remove_timer(TimerId id) override;
  boost::asio::io_context& io() override { return io_; }
  Status declare_event(EventSpec spec) override;
  Status undeclare_event(std::string_view path) override;
  void emit(std::string_view path, std::string body = {}) override;
  void subscribe(std::string pattern, EventCallback on_event, SubscribeDone done = {}) override;
  void subscribe_as(std::string pattern, Credentials credentials, EventCallback on_event,
                    SubscribeDone done) override;
  void trace(std::string filter, bool debug, Credentials credentials, EventCallback on_line,
             SubscribeDone done) override;
  bool unsubscribe(SubscriptionId id) override;

 private:
  // One of the two handlers is set.
  struct Route {
    Handler handler;
    AsyncHandler async;
  };
  struct PathEntry {
    PathSpec spec;
    std::shared_ptr<const Route> route;
  };
  // Replies of asynchronous handlers reach the uplink through this while the runtime lives;
  // stop() closes it, and a later reply goes nowhere.
  struct ReplyGate {
    std::shared_mutex mu;
    ModuleRuntime* runtime = nullptr;
  };
  struct PendingCall;
  struct Timer;
  struct Subscription;
  // Heterogeneous lookup: find a path by string_view without building a std::string.
  struct PathHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void run_request(const pb::Message& req);
  Response call_handler(const Handler& h, const Message& m);
  // Runs an asynchronous handler; its reply (or a 500 when it throws or crashes) is sent by
  // send_response() and ends the request's in-flight count.
  void call_async_handler(const AsyncHandler& h, const Message& m, std::uint64_t id);
  void send_response(std::uint64_t id, Response&& resp);
  Status add_route(PathSpec spec, Route route);
  std::shared_ptr<const Route> find_route(std::string_view path) const;
  void apply_config(const pb::ConfigUpdate& update);
  pb::Envelope hello_locked(int pid) const;  // caller holds paths_mu_
  void complete_call(std::uint64_t id, Response resp);
  void fail_all_calls(int status, const std::string& why);
  // A request envelope for an outgoing call: source module, trace parent, deadline.
  pb::Envelope request_envelope(Message&& msg, std::uint64_t id, std::chrono::steady_clock::time_point deadline);
  // Registers `call` under `id` and sends `env`, whose answer is the Response with that id.
  void start_call(std::uint64_t id, pb::Envelope&& env, std::shared_ptr<PendingCall> call);
  // The asynchronous form: `done` runs on the event loop with the answer, or 504 after
  // `timeout`, or 503 when the router restarts or the module stops. Any envelope that the
  // router answers with a Response (a request, Subscribe) goes through here.
  void call_async(std::uint64_t id, pb::Envelope&& env, std::chrono::milliseconds timeout, ResponseCallback done,
                  const char* what);
  // Subscriptions (runtime_events.cc).
  void add_subscription(std::shared_ptr<Subscription> sub, SubscribeDone done);
  void issue_locked(const std::shared_ptr<Subscription>& sub, SubscribeDone done, bool again);
  void subscription_answered(const std::shared_ptr<Subscription>& sub, Response resp, const SubscribeDone& done,
                             bool again);
  void deliver(const pb::EventDelivery& delivery);
  void send_unsubscribe_locked(SubscriptionId id);
  void fail_subscribe(SubscribeDone done, Error error, const std::string& pattern);
  // stop(): drops every subscription and declared event, telling the router when it knew.
  void drop_events_and_subscriptions();
  void arm_timer(const std::shared_ptr<Timer>& t);
  void cancel_all_timers();
  void stop_io();
  void report_crash(int sig, std::string_view what);
  // Runs module code outside a handler (timers, callbacks, config_changed): exceptions are
  // logged, faults caught when guarded. False when the module crashed.
  bool run_module_code(const std::function<void()>& fn, std::string_view what);

  RuntimeOptions opts_;
  Uplink& uplink_;
  std::unique_ptr<Module> module_;

  // Guards paths_ and events_: hello() reads both and sets announced_ under it, so a path or
  // event is either in the hello or sent on its own, never lost and never twice.
  mutable std::shared_mutex paths_mu_;
  std::unordered_map<std::string, PathEntry, PathHash, std::equal_to<>> paths_;
  std::map<std::string, EventSpec, std::less<>> events_;
  mutable std::atomic<bool> announced_{false};  // hello() was built: new paths go out one by one

  mutable std::mutex config_mu_;

  std::mutex calls_mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingCall>> calls_;
  std::atomic<std::uint64_t> next_call_id_{1};

  std::mutex subs_mu_;
  // Subscribe and Unsubscribe envelopes are sent under subs_mu_, so the router sees them in
  // the order the table changed (a re-issue never overtakes the Unsubscribe that ended it).
  std::map<SubscriptionId, std::shared_ptr<Subscription>> subs_;  // ordered: re-issued by id
  bool subs_live_ = false;  // announce() sent the hello: new subscriptions go out at once
  // Ids we already told the router to forget: a delivery still in flight for one of them
  // is dropped without another Unsubscribe (bounded; cleared when a new router attaches).
  std::unordered_set<SubscriptionId> forgotten_;
  std::atomic<SubscriptionId> next_sub_id_{1};

  std::mutex timers_mu_;
  std::unordered_map<TimerId, std::shared_ptr<Timer>> timers_;
  std::atomic<TimerId> next_timer_id_{1};

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> crashed_{false};
  std::atomic<std::uint64_t> in_flight_{0};
  std::shared_ptr<ReplyGate> reply_gate_ = std::make_shared<ReplyGate>();
  std::string log_topic_;
};

}  // namespace portal::host

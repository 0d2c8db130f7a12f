// The module SDK (DESIGN.md 5). A module implements portal::Module, declares itself once
// with PORTAL_MODULE, and talks to the rest of Portal only through portal::Core. The same
// module binary runs in a portal-worker process, inside the router (isolation = inprocess)
// and on the stub router of modsdk/testing/ — it cannot tell which.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "portal/message.h"
#include "portal/result.h"

namespace portal {

// A host refuses a module built for another major API version.
inline constexpr std::uint32_t kApiMajor = 1;
// 1: events, subscriptions, traces; 2: asynchronous handlers, config_keys()
inline constexpr std::uint32_t kApiMinor = 2;

enum class LogLevel : std::uint8_t { error = 0, warn = 1, info = 2, debug = 3, trace = 4 };
enum class Access : std::uint8_t { read = 1, write = 2, read_write = 3 };

struct PathSpec {
  std::string path;  // exact ("/hello/resources/greeting") or wildcard ("/files/*")
  std::string description;
  std::vector<std::string> labels;  // ACL labels; empty = open
  Access access = Access::read_write;
};

// An event the module emits (COMPAT.md 1.8). `path` is exact and lies under /events/;
// subscribers need a label in common with `labels` (none: everyone may subscribe).
struct EventSpec {
  std::string path;
  std::string description;
  std::vector<std::string> labels;
};

using SubscriptionId = std::uint64_t;

// One delivery to a subscription: an event, or a trace line for Core::trace().
struct Event {
  SubscriptionId subscription = 0;
  std::string path;  // the event's path; "/core/trace" for trace lines
  std::string body;
  std::uint64_t trace_id = 0;
  std::uint64_t dropped = 0;  // deliveries this module lost (slow consumer) since the last one
};

// Runs on one of the module's handler threads; may block, may call Core::send().
using Handler = std::function<Response(const Message&)>;
using ResponseCallback = std::function<void(Response)>;

// The answer to one request of an asynchronous handler (Core::register_path_async). Copies
// share one answer: the first call sends it, later calls are ignored. Callable from any
// thread. When the last copy is destroyed unanswered, the caller gets 500, so a lost
// request never leaves its caller waiting for the deadline.
class Reply {
 public:
  using Sink = std::function<void(Response&&)>;
  Reply() = default;
  explicit Reply(Sink sink) : state_(std::make_shared<State>(std::move(sink))) {}
  void operator()(Response response) const {
    if (state_) state_->answer(std::move(response));
  }
  bool answered() const { return !state_ || state_->done.load(); }

 private:
  struct State {
    explicit State(Sink s) : sink(std::move(s)) {}
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
      try {
        answer(respond(status::internal_error, "Request dropped by the handler\n"));
      } catch (...) {
      }
    }
    void answer(Response&& r) {
      if (!done.exchange(true) && sink) sink(std::move(r));
    }
    Sink sink;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<State> state_;
};

// Returns at once; answers through the Reply whenever the answer is ready, from any thread.
using AsyncHandler = std::function<void(const Message&, Reply)>;
using TimerId = std::uint64_t;
// Emitted (by any module) when a `sys.see_all` user is shown a row the row filter would
// hide; the router adds the emitting module to the body.
inline constexpr std::string_view kAclBypassEvent = "/events/acl/bypass";

// Both run on the module's event loop.
using EventCallback = std::function<void(const Event&)>;
using SubscribeDone = std::function<void(Result<SubscriptionId>)>;

// What the core gives a module. Every method is thread-safe unless it says otherwise.
class Core {
 public:
  virtual ~Core() = default;

  virtual std::string_view module_name() const = 0;

  // Registers a path owned by this module. Fails on a malformed path or one this module
  // already registered; a clash with another module's path is reported by the router.
  virtual Status register_path(PathSpec spec, Handler handler) = 0;
  virtual Status unregister_path(std::string_view path) = 0;

  // Sends a message to any path and waits for the response. From handler threads and
  // module-owned threads only, never from the event loop (use send_async there).
  virtual Response send(Message msg) = 0;
  // Sends without waiting; `done` runs on the module's event loop.
  virtual void send_async(Message msg, ResponseCallback done) = 0;

  // The module's setting `key` ([mod_<name>] section and mod_<name>.conf), if set.
  virtual std::optional<std::string> config(std::string_view key) const = 0;

  // Logged under the module's topic (mod.<name>).
  virtual void log(LogLevel level, std::string_view text) = 0;

  // Timers run on the module's event loop. remove_timer() after the last run is harmless.
  virtual TimerId add_timer(std::chrono::milliseconds interval, std::function<void()> fn,
                            bool repeat = true) = 0;
  virtual bool remove_timer(TimerId id) = 0;

  // The module's event loop, for sockets. Runs on its own thread.
  virtual boost::asio::io_context& io() = 0;

  // --- events (COMPAT.md 1.8) ---
  // Declares an event this module emits, under /events/<module name>/ (403 elsewhere).
  // Removed automatically when the module unloads.
  virtual Status declare_event(EventSpec spec) = 0;
  virtual Status undeclare_event(std::string_view path) = 0;
  // Emits an event; the router fans it out to every subscriber the event ACL allows. Never
  // waits for subscribers. A module may emit the events it declared and any path under
  // /events/<its name>/.
  virtual void emit(std::string_view path, std::string body = {}) = 0;
  // Subscribes the module itself, with the system identity: it may see every event.
  // `pattern` is an exact event path, "/prefix/*" or "*". `on_event` runs on the event loop
  // for each delivery, in order; `done` gets the id or the router's refusal.
  virtual void subscribe(std::string pattern, EventCallback on_event, SubscribeDone done = {}) = 0;
  // Subscribes on behalf of a client (the CLI's `subscribe`, HTTP server-sent events): the
  // router resolves `credentials` like any request's and applies the event ACL as that user,
  // when subscribing (403 "Subscribe denied") and again at every delivery. An exact pattern
  // must name a declared event (404).
  virtual void subscribe_as(std::string pattern, Credentials credentials, EventCallback on_event,
                            SubscribeDone done) = 0;
  // Live trace lines (COMPAT.md 1.7) of every message whose path contains `filter` ("/" or
  // "" = all); with `debug`, body dumps follow. Admins only (403 otherwise). Each line
  // arrives as an Event with path "/core/trace".
  virtual void trace(std::string filter, bool debug, Credentials credentials, EventCallback on_line,
                     SubscribeDone done) = 0;
  // Ends a subscription or trace; false when the id is unknown.
  virtual bool unsubscribe(SubscriptionId id) = 0;

  // --- since API minor 2 ---
  // Like register_path, for a module whose answers wait on the network rather than on a
  // thread (federation): the handler runs on a handler thread, returns at once and answers
  // later through its Reply. The request counts as in flight until then.
  virtual Status register_path_async(PathSpec spec, AsyncHandler handler) = 0;
  // Every setting key of the module, sorted. Lets a module read settings whose names it
  // cannot know in advance, such as the sections "[peer:NAME]" that reach the node module
  // as "peer:NAME.host", "peer:NAME.port", ...
  virtual std::vector<std::string> config_keys() const = 0;

  // The row filter for listings (COMPAT.md 1.5, "Law 15"): may `who` see a row carrying
  // `row_labels`? Root and unlabelled rows: yes; otherwise a label in common. A user with
  // `sys.see_all` sees every row, and each time that shows a row the filter would have
  // hidden, the bypass is audited as the event /events/acl/bypass.
  bool labels_allow(const Identity& who, const std::vector<std::string>& row_labels) {
    if (who.user == "root" || row_labels.empty()) return true;
    for (const auto& l : who.labels)
      for (const auto& r : row_labels)
        if (l == r) return true;
    for (const auto& l : who.labels)
      if (l == "sys.see_all") {
        emit(kAclBypassEvent, "user=" + who.user + "\n");
        return true;
      }
    return false;
  }
};

class Module {
 public:
  virtual ~Module() = default;
  // Registers paths, timers, sockets. An error with code kFatalConfig means "this
  // configuration can never work": the worker exits and is not respawned.
  virtual Status load(Core& core) = 0;
  // Everything the module registered through Core is removed by the host afterwards;
  // unload() only releases what the module holds itself.
  virtual void unload(Core&) {}
  // A setting changed at runtime (/core/config/set); the new value is already visible
  // through Core::config().
  virtual void config_changed(Core&, std::string_view /*key*/) {}
};

// The one exported symbol of a module library. api_major comes first so any host can
// read it before trusting the rest of the layout.
struct ModuleInfo {
  std::uint32_t api_major;
  std::uint32_t api_minor;
  const char* name;
  const char* version;
  const char* description;
  Module* (*create)();
};

inline constexpr const char* kModuleInfoSymbol = "portal_module_info";

}  // namespace portal

// Declares the module: PORTAL_MODULE(HelloModule, "hello", "1.0.0", "Example module")
#define PORTAL_MODULE(Class, Name, Version, Description)                                      \
  extern "C" __attribute__((visibility("default"))) const ::portal::ModuleInfo                \
      portal_module_info = {::portal::kApiMajor, ::portal::kApiMinor, Name, Version,          \
                            Description, []() -> ::portal::Module* { return new Class(); }};

// StubRouter: an in-process fake of the whole core API (DESIGN.md 5), so that a module is
// unit-tested with no other process. It is the module's portal::Core: requests run the
// module's handlers synchronously on the test's thread, the module's outgoing calls are
// answered by the test (on_send), events it emits are recorded and reach its own
// subscriptions, events from elsewhere are delivered by the test (deliver_event), time is a
// fake clock the test advances, and the event loop is one the test polls. Nothing runs
// unless the test makes it run.
//
//   portal::testing::StubRouter stub;
//   ASSERT_TRUE(stub.load_library(MOD_HELLO_PATH));
//   EXPECT_EQ(stub.request(portal::Method::get, "/hello/resources/greeting").body, "Hello from Portal!\n");
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "portal/module.h"

namespace portal::host {
class ModuleLibrary;
}

namespace portal::testing {

struct LogLine {
  LogLevel level;
  std::string text;
};

// What the module left registered for the host to remove at unload (the host always does;
// a tidy module leaves nothing).
struct Leftovers {
  std::vector<std::string> paths;
  std::size_t timers = 0;
  std::vector<std::string> events;  // declared and not undeclared
  std::size_t subscriptions = 0;    // subscriptions and traces not ended
  bool empty() const { return paths.empty() && timers == 0 && events.empty() && subscriptions == 0; }
};

// An event the module emitted and the stub accepted.
struct Emitted {
  std::string path;
  std::string body;
};

// A subscription the module holds: its own (subscribe), for a client (subscribe_as) or a
// trace.
struct StubSubscription {
  enum class Kind { own, as, trace };
  SubscriptionId id = 0;
  Kind kind = Kind::own;
  std::string pattern;  // own, as: the pattern; trace: the filter
  bool debug = false;   // trace
  Credentials credentials;
};

class StubRouter final : public Core {
 public:
  using Answer = std::function<Response(const Message&)>;

  // `module_name` names a module given to load(); load_library() uses the library's name.
  explicit StubRouter(std::string module_name = "test");
  ~StubRouter() override;
  StubRouter(const StubRouter&) = delete;
  StubRouter& operator=(const StubRouter&) = delete;

  // --- the module ---
  Status load(std::unique_ptr<Module> module);
  // dlopens a built module (mod_<name>.so), checks its API version, loads it.
  Status load_library(const std::string& path);
  // Runs the module's unload(), removes whatever it left registered (as every host does)
  // and checks that nothing remains. Error when nothing is loaded or cleanup failed.
  Status unload();
  bool loaded() const;
  // After unload(): what the module had not removed itself.
  const Leftovers& leftovers() const { return leftovers_; }

  // --- requests into the module (exact match, then /a/b/* /a/* /*; 404 when none) ---
  Response request(Method method, std::string path, Headers headers = {}, std::string body = {});
  // Full control: identity (ctx.auth), trace, headers. An id of 0 gets the next one.
  Response request(Message msg);

  // --- the module's outgoing calls ---
  // Answers send()/send_async() to `pattern`: an exact path, "/prefix/*" (anything under
  // "/prefix/"), or "*". Exact beats the longest prefix beats "*"; a later registration of
  // the same pattern replaces the earlier one. Unanswered calls reach the module's own
  // paths, else 404.
  void on_send(std::string pattern, Answer answer);
  std::vector<Message> sent() const;  // every outgoing message, oldest first
  void clear_sent();

  // --- configuration ---
  // Before load(): the module reads it in load(). After: config_changed(key) runs.
  void set_config(std::string key, std::string value);

  // --- events ---
  // Accepted like the router does: an event the module declared or any path under
  // /events/<module>/; the rest is refused (403, logged as the real runtime logs it) and not
  // recorded. An accepted event also reaches the module's own matching subscriptions at
  // the next poll().
  std::vector<Emitted> emitted() const;  // oldest first
  void clear_emitted();
  std::vector<EventSpec> events() const;  // what the module declared, sorted by path
  std::vector<StubSubscription> subscriptions() const;  // by id
  // An event from elsewhere: runs the callback of every subscription (own or client) whose
  // pattern matches (exact; "/prefix/*": anything under "/prefix/"; "*": everything), in
  // subscription order, on io() — it polls io() before it returns. Returns how many
  // subscriptions it reached. The stub applies no event ACL.
  std::size_t deliver_event(std::string path, std::string body = {}, std::uint64_t dropped = 0);
  // A trace line for every trace() subscription (path "/core/trace"); polls io() likewise.
  std::size_t deliver_trace(std::string line);
  // From now on subscribe_as() and trace() are refused with `status` and `body` (a user
  // without rights: 403 "Subscribe denied\n"; an undeclared exact event: 404); 0 accepts
  // again. The module's own subscribe() is never refused, as on the router.
  void refuse_subscriptions(int status, std::string body = "Subscribe denied\n");

  // --- fake clock and event loop ---
  // Moves time forward, running every timer that falls due, in order, on this thread;
  // polls io() after each one. Nothing ever waits for real time.
  void advance(std::chrono::milliseconds by);
  std::chrono::milliseconds now() const;  // fake time since construction
  std::size_t timer_count() const;
  // Runs the handlers of io() that are ready (send_async callbacks, posted work).
  std::size_t poll();

  // --- what the module did ---
  std::vector<PathSpec> paths() const;  // sorted by path
  std::optional<PathSpec> path(std::string_view path) const;
  std::vector<LogLine> logs() const;
  bool logged(std::string_view needle) const;  // some log line contains `needle`

  // --- portal::Core ---
  std::string_view module_name() const override { return name_; }
  Status register_path(PathSpec spec, Handler handler) override;
  // request() waits for the Reply, polling io() meanwhile (an answer may come from a
  // send_async callback); 504 after 30 s of real time.
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
  // subscribe(), subscribe_as() and trace() answer `done` on io(): it runs at the next poll().
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
  struct Route {
    PathSpec spec;
    std::shared_ptr<Handler> handler;
  };
  struct FakeTimer {
    std::chrono::milliseconds due;
    std::chrono::milliseconds interval;
    std::shared_ptr<std::function<void()>> fn;
    bool repeat;
  };

  std::shared_ptr<Handler> find_route(std::string_view path) const;
  const Answer* find_answer(std::string_view path) const;
  Response answer(Message& msg);
  struct Subscribed {
    StubSubscription info;
    std::shared_ptr<EventCallback> callback;
  };

  bool fire_next_timer(std::chrono::milliseconds until);
  void clear_registrations();
  void add_subscription(StubSubscription info, EventCallback cb, SubscribeDone done, bool client);
  void answer_subscribe(SubscribeDone done, Result<SubscriptionId> result, const std::string& pattern);
  // Posts one delivery; the callback runs only if the subscription still exists by then.
  void post_delivery(SubscriptionId id, std::shared_ptr<EventCallback> cb, Event ev);

  std::string name_;
  // Declared first: destroyed last, after the module and the event loop it fed.
  std::unique_ptr<host::ModuleLibrary> library_;
  boost::asio::io_context io_;
  std::unique_ptr<Module> module_;

  mutable std::mutex mu_;
  std::map<std::string, Route, std::less<>> routes_;
  std::map<std::string, Answer, std::less<>> answers_;
  std::vector<Message> sent_;
  std::map<std::string, std::string, std::less<>> config_;
  std::map<TimerId, FakeTimer> timers_;
  std::vector<LogLine> logs_;
  std::map<std::string, EventSpec, std::less<>> events_;
  std::vector<Emitted> emitted_;
  std::map<SubscriptionId, Subscribed> subs_;
  SubscriptionId next_sub_ = 1;
  int refuse_status_ = 0;
  std::string refuse_body_;
  std::chrono::milliseconds now_{0};
  TimerId next_timer_ = 1;
  std::uint64_t next_id_ = 1;
  Leftovers leftovers_;
};

}  // namespace portal::testing

#include "testing/stub_router.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <iostream>

#include <boost/asio/post.hpp>

#include "common/log.h"
#include "host/convert.h"
#include "host/loader.h"
#include "host/path_match.h"

namespace portal::testing {

using std::chrono::milliseconds;

namespace {

// The request whose handler runs on this thread: outgoing calls name it as their parent.
thread_local const Message* t_current = nullptr;

class CurrentRequest {
 public:
  explicit CurrentRequest(const Message* m) : saved_(t_current) { t_current = m; }
  ~CurrentRequest() { t_current = saved_; }
  CurrentRequest(const CurrentRequest&) = delete;
  CurrentRequest& operator=(const CurrentRequest&) = delete;

 private:
  const Message* saved_;
};

// As the real hosts do: an exception never crosses the boundary, it becomes a 500.
Response call_guarded(const Handler& h, const Message& m) {
  try {
    return h(m);
  } catch (const std::exception& e) {
    return respond(status::internal_error, e.what());
  } catch (...) {
    return respond(status::internal_error, "unknown exception");
  }
}


}  // namespace

StubRouter::StubRouter(std::string module_name) : name_(std::move(module_name)) {}

StubRouter::~StubRouter() {
  if (module_) (void)unload();
}

// --- the module ------------------------------------------------------------------------------

Status StubRouter::load(std::unique_ptr<Module> module) {
  if (!module) return make_error(500, "no module");
  if (module_) return make_error(500, "a module is already loaded");
  module_ = std::move(module);
  Status s;
  try {
    s = module_->load(*this);
  } catch (const std::exception& e) {
    s = make_error(500, std::string("load() threw: ") + e.what());
  } catch (...) {
    s = make_error(500, "load() threw");
  }
  if (!s) {
    (void)unload();  // as the real hosts: a failed load is unloaded and cleaned up
    return s;
  }
  return {};
}

Status StubRouter::load_library(const std::string& path) {
  if (module_) return make_error(500, "a module is already loaded");
  auto lib = host::ModuleLibrary::open(path);
  if (!lib) return lib.error();
  library_ = std::move(*lib);
  name_ = library_->info().name;
  return load(library_->create());
}

bool StubRouter::loaded() const { return module_ != nullptr; }

Status StubRouter::unload() {
  if (!module_) return make_error(500, "no module loaded");
  poll();  // what the loop already had ready runs first, as on a real loop
  module_->unload(*this);
  {
    std::lock_guard lock(mu_);
    leftovers_ = {};
    for (const auto& [path, route] : routes_) leftovers_.paths.push_back(path);
    leftovers_.timers = timers_.size();
    for (const auto& [path, spec] : events_) leftovers_.events.push_back(path);
    leftovers_.subscriptions = subs_.size();
  }
  clear_registrations();  // later callbacks never run: io() is not polled for this module again
  module_.reset();
  std::lock_guard lock(mu_);
  if (!routes_.empty() || !timers_.empty() || !events_.empty() || !subs_.empty())
    return make_error(500, "registrations left after unload: the module registered during unload()");
  return {};
}

void StubRouter::clear_registrations() {
  std::map<std::string, Route, std::less<>> routes;
  std::map<TimerId, FakeTimer> timers;
  std::map<std::string, EventSpec, std::less<>> events;
  std::map<SubscriptionId, Subscribed> subs;
  std::lock_guard lock(mu_);
  routes.swap(routes_);
  timers.swap(timers_);
  events.swap(events_);
  subs.swap(subs_);
}

// --- requests ----------------------------------------------------------------------------------

Response StubRouter::request(Method method, std::string path, Headers headers, std::string body) {
  Message m = make_message(method, std::move(path), std::move(body));
  m.headers = std::move(headers);
  return request(std::move(m));
}

Response StubRouter::request(Message msg) {
  {
    std::lock_guard lock(mu_);
    if (msg.id == 0) msg.id = next_id_++;
  }
  if (msg.ctx.trace.trace_id == 0) msg.ctx.trace.trace_id = msg.id;
  std::shared_ptr<Handler> h = find_route(msg.path);
  if (!h) return respond(status::not_found);
  CurrentRequest current(&msg);
  return call_guarded(*h, msg);
}

std::shared_ptr<Handler> StubRouter::find_route(std::string_view path) const {
  std::lock_guard lock(mu_);
  if (auto it = routes_.find(path); it != routes_.end()) return it->second.handler;
  std::string scratch;
  std::shared_ptr<Handler> found;
  host::for_each_wildcard(path, scratch, [&](std::string_view candidate) {
    auto it = routes_.find(candidate);
    if (it == routes_.end()) return false;
    found = it->second.handler;
    return true;
  });
  return found;
}

// --- outgoing calls ------------------------------------------------------------------------------

void StubRouter::on_send(std::string pattern, Answer answer) {
  std::lock_guard lock(mu_);
  answers_[std::move(pattern)] = std::move(answer);
}

std::vector<Message> StubRouter::sent() const {
  std::lock_guard lock(mu_);
  return sent_;
}

void StubRouter::clear_sent() {
  std::lock_guard lock(mu_);
  sent_.clear();
}

// Exact, then the longest "/prefix/*", then "*". Caller holds mu_.
const StubRouter::Answer* StubRouter::find_answer(std::string_view path) const {
  if (auto it = answers_.find(path); it != answers_.end()) return &it->second;
  const Answer* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [pattern, answer] : answers_) {
    if (pattern.size() < 2 || !pattern.ends_with("/*")) continue;
    std::string_view prefix(pattern.data(), pattern.size() - 1);  // keeps the '/'
    if (path.starts_with(prefix) && prefix.size() > best_len) {
      best = &answer;
      best_len = prefix.size();
    }
  }
  if (best) return best;
  if (auto it = answers_.find("*"); it != answers_.end()) return &it->second;
  return nullptr;
}

Response StubRouter::answer(Message& msg) {
  Answer answer;
  {
    std::lock_guard lock(mu_);
    msg.id = next_id_++;
    msg.ctx.source_module = name_;
    if (t_current) {
      msg.ctx.trace.parent_id = t_current->id;
      if (msg.ctx.trace.trace_id == 0) msg.ctx.trace.trace_id = t_current->ctx.trace.trace_id;
    }
    if (msg.ctx.trace.trace_id == 0) msg.ctx.trace.trace_id = msg.id;
    sent_.push_back(msg);
    if (const Answer* a = find_answer(msg.path)) answer = *a;
  }
  if (answer) return call_guarded(answer, msg);
  // Nobody answers: the module may be calling one of its own paths through the router.
  if (std::shared_ptr<Handler> h = find_route(msg.path)) {
    CurrentRequest current(&msg);
    return call_guarded(*h, msg);
  }
  return respond(status::not_found);
}

Response StubRouter::send(Message msg) { return answer(msg); }

void StubRouter::send_async(Message msg, ResponseCallback done) {
  Response r = answer(msg);
  if (done) boost::asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
}

// --- configuration and logging -------------------------------------------------------------------

void StubRouter::set_config(std::string key, std::string value) {
  {
    std::lock_guard lock(mu_);
    config_[key] = std::move(value);
  }
  if (module_) module_->config_changed(*this, key);
}

std::optional<std::string> StubRouter::config(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = config_.find(key);
  if (it == config_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> StubRouter::config_keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> keys;
  for (const auto& [key, value] : config_) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void StubRouter::log(LogLevel level, std::string_view text) {
  static const bool echo = std::getenv("PORTAL_TEST_LOG") != nullptr;
  if (echo) std::cerr << "[" << log::level_name(level) << "] [mod." << name_ << "] " << text << "\n";
  std::lock_guard lock(mu_);
  logs_.push_back({level, std::string(text)});
}

std::vector<LogLine> StubRouter::logs() const {
  std::lock_guard lock(mu_);
  return logs_;
}

bool StubRouter::logged(std::string_view needle) const {
  std::lock_guard lock(mu_);
  for (const LogLine& l : logs_)
    if (l.text.find(needle) != std::string::npos) return true;
  return false;
}

// --- paths ------------------------------------------------------------------------------------------

Status StubRouter::register_path(PathSpec spec, Handler handler) {
  if (Status valid = host::validate_path(spec.path); !valid) return valid;
  if (!handler) return make_error(status::bad_request, "no handler for " + spec.path);
  std::lock_guard lock(mu_);
  if (routes_.count(spec.path)) return make_error(status::conflict, spec.path + " is already registered by this module");
  std::string key = spec.path;
  routes_.emplace(std::move(key), Route{std::move(spec), std::make_shared<Handler>(std::move(handler))});
  return {};
}

Status StubRouter::register_path_async(PathSpec spec, AsyncHandler handler) {
  if (!handler) return make_error(status::bad_request, "no handler for " + spec.path);
  struct Box {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Response> response;
  };
  auto async = std::make_shared<AsyncHandler>(std::move(handler));
  return register_path(std::move(spec), [this, async](const Message& m) {
    auto box = std::make_shared<Box>();
    (*async)(m, Reply([box](Response&& r) {
      std::lock_guard lock(box->mu);
      box->response = std::move(r);
      box->cv.notify_all();
    }));
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      {
        std::unique_lock lock(box->mu);
        if (box->response) return std::move(*box->response);
        if (std::chrono::steady_clock::now() > until) return respond(status::gateway_timeout, "No reply\n");
      }
      poll();
      std::unique_lock lock(box->mu);
      box->cv.wait_for(lock, std::chrono::milliseconds(1), [&] { return box->response.has_value(); });
    }
  });
}

Status StubRouter::unregister_path(std::string_view path) {
  std::lock_guard lock(mu_);
  auto it = routes_.find(path);
  if (it == routes_.end()) return make_error(status::not_found, std::string(path) + " is not registered");
  routes_.erase(it);
  return {};
}

std::vector<PathSpec> StubRouter::paths() const {
  std::lock_guard lock(mu_);
  std::vector<PathSpec> out;
  for (const auto& [path, route] : routes_) out.push_back(route.spec);
  return out;
}

std::optional<PathSpec> StubRouter::path(std::string_view path) const {
  std::lock_guard lock(mu_);
  auto it = routes_.find(path);
  if (it == routes_.end()) return std::nullopt;
  return it->second.spec;
}

// --- fake clock -------------------------------------------------------------------------------------

TimerId StubRouter::add_timer(milliseconds interval, std::function<void()> fn, bool repeat) {
  if (!fn) return 0;
  if (repeat && interval < milliseconds(1)) interval = milliseconds(1);
  std::lock_guard lock(mu_);
  TimerId id = next_timer_++;
  timers_.emplace(id, FakeTimer{now_ + interval, interval, std::make_shared<std::function<void()>>(std::move(fn)),
                                repeat});
  return id;
}

bool StubRouter::remove_timer(TimerId id) {
  std::lock_guard lock(mu_);
  return timers_.erase(id) > 0;
}

std::size_t StubRouter::timer_count() const {
  std::lock_guard lock(mu_);
  return timers_.size();
}

milliseconds StubRouter::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

// Runs the earliest timer due at or before `until` (ties: the older timer first).
bool StubRouter::fire_next_timer(milliseconds until) {
  std::shared_ptr<std::function<void()>> fn;
  {
    std::lock_guard lock(mu_);
    auto next = timers_.end();
    for (auto it = timers_.begin(); it != timers_.end(); ++it)
      if (it->second.due <= until && (next == timers_.end() || it->second.due < next->second.due)) next = it;
    if (next == timers_.end()) return false;
    now_ = next->second.due;
    fn = next->second.fn;
    if (next->second.repeat)
      next->second.due += next->second.interval;
    else
      timers_.erase(next);  // remove_timer() after the last run is harmless
  }
  (*fn)();
  poll();
  return true;
}

void StubRouter::advance(milliseconds by) {
  milliseconds until;
  {
    std::lock_guard lock(mu_);
    until = now_ + by;
  }
  poll();
  while (fire_next_timer(until)) {
  }
  std::lock_guard lock(mu_);
  now_ = until;
}

std::size_t StubRouter::poll() {
  io_.restart();
  return io_.poll();
}

}  // namespace portal::testing

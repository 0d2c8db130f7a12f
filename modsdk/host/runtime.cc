#include "host/runtime.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include <boost/asio/post.hpp>

#include "common/log.h"
#include "host/convert.h"
#include "host/crash_guard.h"
#include "host/path_match.h"

namespace portal::host {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ModuleRuntime::PendingCall {
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> done{false};
  Response response;                             // sync calls, valid once done
  ResponseCallback callback;                     // async calls
  std::unique_ptr<asio::steady_timer> deadline;  // async calls; touched on the io thread only
  const char* what = "a send_async callback";    // names the callback in crash and throw logs
};

namespace {

// The message whose handler runs on this thread: outgoing calls name it as their parent.
thread_local std::uint64_t t_current_id = 0;
thread_local std::uint64_t t_current_trace = 0;
thread_local int t_handler_depth = 0;

class CurrentMessage {
 public:
  CurrentMessage(std::uint64_t id, std::uint64_t trace)
      : saved_id_(t_current_id), saved_trace_(t_current_trace) {
    t_current_id = id;
    t_current_trace = trace;
    ++t_handler_depth;
  }
  ~CurrentMessage() {
    t_current_id = saved_id_;
    t_current_trace = saved_trace_;
    --t_handler_depth;
  }
  CurrentMessage(const CurrentMessage&) = delete;
  CurrentMessage& operator=(const CurrentMessage&) = delete;

 private:
  std::uint64_t saved_id_;
  std::uint64_t saved_trace_;
};

constexpr milliseconds kStopGrace{2000};  // handlers still running when stop() begins

}  // namespace

ModuleRuntime::ModuleRuntime(RuntimeOptions options, Uplink& uplink)
    : opts_(std::move(options)), uplink_(uplink), log_topic_("mod." + opts_.module_name) {
  reply_gate_->runtime = this;
}

ModuleRuntime::~ModuleRuntime() { stop(); }

// --- lifecycle --------------------------------------------------------------------------

Status ModuleRuntime::start(std::unique_ptr<Module> module) {
  if (!module) return make_error(500, "no module to start");
  if (started_.exchange(true)) return make_error(500, "runtime already started");
  module_ = std::move(module);
  work_.emplace(asio::make_work_guard(io_));
  io_thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        log::error(log_topic_, std::string("event loop callback threw: ") + e.what());
      } catch (...) {
        log::error(log_topic_, "event loop callback threw");
      }
    }
  });
  Status loaded;
  auto load = [&] {
    try {
      loaded = module_->load(*this);
    } catch (const std::exception& e) {
      loaded = make_error(500, std::string("load() threw: ") + e.what());
    } catch (...) {
      loaded = make_error(500, "load() threw");
    }
  };
  if (!opts_.crash_guard) {
    load();
  } else if (int sig = run_guarded(load); sig != 0) {
    report_crash(sig, "load()");
    loaded = make_error(500, "module crashed in load(): " + describe_signal(sig));
  }
  if (!loaded) stop();
  return loaded;
}

void ModuleRuntime::stop() {
  if (!started_.load() || stopped_.exchange(true)) return;
  stopping_.store(true);
  // Handlers still running on the host's threads get a moment (never from inside one).
  if (t_handler_depth == 0) {
    auto until = Clock::now() + kStopGrace;
    while (in_flight_.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(milliseconds(1));
  }
  {
    std::unique_lock lock(reply_gate_->mu);  // waits for replies being sent right now
    reply_gate_->runtime = nullptr;
  }
  if (module_ && !crashed_.load()) {
    try {
      module_->unload(*this);
    } catch (const std::exception& e) {
      log::error(log_topic_, std::string("unload() threw: ") + e.what());
    } catch (...) {
      log::error(log_topic_, "unload() threw");
    }
  }
  std::vector<std::string> removed;
  {
    std::unique_lock lock(paths_mu_);
    for (auto& [path, entry] : paths_) removed.push_back(path);
    paths_.clear();
  }
  if (announced_.load()) {
    for (std::string& path : removed) {
      pb::Envelope env;
      env.mutable_unregister_path()->set_path(std::move(path));
      uplink_.send(std::move(env));
    }
  }
  drop_events_and_subscriptions();
  fail_all_calls(status::unavailable, "module stopped");
  stop_io();
  // Code that crashed may have left its own state broken: never run its destructor.
  if (crashed_.load())
    (void)module_.release();
  else
    module_.reset();
}

void ModuleRuntime::stop_io() {
  if (!io_thread_.joinable()) return;
  asio::post(io_, [this] {
    cancel_all_timers();
    // Queued after the cancelled timers' handlers, which release their timers first.
    asio::post(io_, [this] { io_.stop(); });
  });
  work_.reset();
  if (io_thread_.get_id() == std::this_thread::get_id()) {
    io_thread_.detach();  // stop() from the module's own event loop
    return;
  }
  io_thread_.join();
}

bool ModuleRuntime::run_module_code(const std::function<void()>& fn, std::string_view what) {
  auto invoke = [&] {
    try {
      fn();
    } catch (const std::exception& e) {
      log::warn(log_topic_, std::string(what) + " threw: " + e.what());
    } catch (...) {
      log::warn(log_topic_, std::string(what) + " threw");
    }
  };
  if (!opts_.crash_guard) {
    invoke();
    return true;
  }
  if (int sig = run_guarded(invoke); sig != 0) {
    report_crash(sig, what);
    return false;
  }
  return true;
}

void ModuleRuntime::report_crash(int sig, std::string_view what) {
  if (crashed_.exchange(true)) return;
  std::string reason = describe_signal(sig) + " in " + std::string(what);
  log::error(log_topic_, "module crashed: " + reason + "; disabled");
  if (opts_.on_crash) opts_.on_crash(reason);
}

// --- envelopes from the router ----------------------------------------------------------

void ModuleRuntime::handle(const pb::Envelope& env) {
  switch (env.kind_case()) {
    case pb::Envelope::kRequest:
      run_request(env.request());
      break;
    case pb::Envelope::kResponse:
      complete_call(env.response().id(), from_pb(env.response()));
      break;
    case pb::Envelope::kAttach:
      fail_all_calls(status::unavailable, "router restarted");
      announce(::getpid());
      break;
    case pb::Envelope::kConfig:
      apply_config(env.config());
      break;
    case pb::Envelope::kEvent:
      deliver(env.event());
      break;
    default:
      break;  // drain belongs to the host; the rest never travels towards a module
  }
}

std::shared_ptr<const ModuleRuntime::Route> ModuleRuntime::find_route(std::string_view path) const {
  std::shared_lock lock(paths_mu_);
  if (auto it = paths_.find(path); it != paths_.end()) return it->second.route;
  thread_local std::string scratch;
  std::shared_ptr<const Route> found;
  for_each_wildcard(path, scratch, [&](std::string_view candidate) {
    auto it = paths_.find(candidate);
    if (it == paths_.end()) return false;
    found = it->second.route;
    return true;
  });
  return found;
}

void ModuleRuntime::run_request(const pb::Message& req) {
  in_flight_.fetch_add(1);
  Response resp;
  if (crashed_.load()) {
    resp = respond(status::unavailable, "Module disabled after a crash\n");
  } else if (stopping_.load()) {
    resp = respond(status::unavailable, "Module is stopping\n");
  } else if (std::shared_ptr<const Route> route = find_route(req.path())) {
    Message msg = from_pb(req);
    CurrentMessage current(req.id(), req.ctx().trace().trace_id());
    if (route->async) {
      call_async_handler(route->async, msg, req.id());
      return;  // the reply ends the request
    }
    resp = call_handler(route->handler, msg);
  } else {
    resp = respond(status::not_found);
  }
  send_response(req.id(), std::move(resp));
  in_flight_.fetch_sub(1);
}

void ModuleRuntime::send_response(std::uint64_t id, Response&& resp) {
  pb::Envelope env;
  pb::Response* out = env.mutable_response();
  std::string body = std::move(resp.body);
  resp.body.clear();
  to_pb(resp, id, *out);
  out->set_body(std::move(body));
  uplink_.send(std::move(env));
}

void ModuleRuntime::call_async_handler(const AsyncHandler& h, const Message& m, std::uint64_t id) {
  Reply reply([gate = reply_gate_, id](Response&& resp) {
    std::shared_lock lock(gate->mu);
    if (!gate->runtime) return;  // the runtime stopped; the router already failed the call
    gate->runtime->send_response(id, std::move(resp));
    gate->runtime->in_flight_.fetch_sub(1);
  });
  auto invoke = [&] {
    try {
      h(m, reply);
    } catch (const std::exception& e) {
      log::warn(log_topic_, "handler for " + m.path + " threw: " + e.what());
      reply(respond(status::internal_error, e.what()));
    } catch (...) {
      log::warn(log_topic_, "handler for " + m.path + " threw");
      reply(respond(status::internal_error, "unknown exception"));
    }
  };
  if (!opts_.crash_guard) {
    invoke();
    return;
  }
  if (int sig = run_guarded(invoke); sig != 0) {
    report_crash(sig, m.path);
    reply(respond(status::internal_error, "Module crashed\n"));
  }
}

Response ModuleRuntime::call_handler(const Handler& h, const Message& m) {
  Response resp;
  auto invoke = [&] {
    try {
      resp = h(m);
    } catch (const std::exception& e) {
      log::warn(log_topic_, "handler for " + m.path + " threw: " + e.what());
      resp = respond(status::internal_error, e.what());
    } catch (...) {
      log::warn(log_topic_, "handler for " + m.path + " threw");
      resp = respond(status::internal_error, "unknown exception");
    }
  };
  if (!opts_.crash_guard) {
    invoke();
    return resp;
  }
  if (int sig = run_guarded(invoke); sig != 0) {
    report_crash(sig, m.path);
    return respond(status::internal_error, "Module crashed\n");
  }
  return resp;
}

void ModuleRuntime::apply_config(const pb::ConfigUpdate& update) {
  std::vector<std::string> changed;
  {
    std::lock_guard lock(config_mu_);
    // merge: a runtime /core/config/set names only the keys it changed.
    std::map<std::string, std::string> next;
    if (update.merge()) next = opts_.config;
    for (const auto& [key, value] : update.values()) next[key] = value;
    for (const auto& [key, value] : next) {
      auto it = opts_.config.find(key);
      if (it == opts_.config.end() || it->second != value) changed.push_back(key);
    }
    for (const auto& [key, value] : opts_.config)
      if (!next.count(key)) changed.push_back(key);
    opts_.config = std::move(next);
  }
  if (!module_ || crashed_.load() || stopping_.load()) return;
  for (const std::string& key : changed)
    if (!run_module_code([&] { module_->config_changed(*this, key); }, "config_changed(" + key + ")")) return;
}

pb::Envelope ModuleRuntime::hello(int pid) const {
  std::shared_lock lock(paths_mu_);
  return hello_locked(pid);
}

pb::Envelope ModuleRuntime::hello_locked(int pid) const {
  pb::Envelope env;
  pb::WorkerHello* h = env.mutable_hello();
  h->set_module(opts_.module_name);
  h->set_version(opts_.version);
  h->set_description(opts_.description);
  h->set_api_major(kApiMajor);
  h->set_api_minor(kApiMinor);
  h->set_pid(pid);
  h->set_generation(opts_.generation);
  for (const auto& [path, entry] : paths_) to_pb(entry.spec, *h->add_paths());
  for (const auto& [path, spec] : events_) to_pb(spec, *h->add_events());
  announced_.store(true);
  return env;
}

// --- portal::Core: paths, config, log -----------------------------------------------------

Status ModuleRuntime::register_path(PathSpec spec, Handler handler) {
  if (!handler) return make_error(status::bad_request, "no handler for " + spec.path);
  return add_route(std::move(spec), Route{std::move(handler), {}});
}

Status ModuleRuntime::register_path_async(PathSpec spec, AsyncHandler handler) {
  if (!handler) return make_error(status::bad_request, "no handler for " + spec.path);
  return add_route(std::move(spec), Route{{}, std::move(handler)});
}

Status ModuleRuntime::add_route(PathSpec spec, Route route) {
  if (Status valid = validate_path(spec.path); !valid) return valid;
  if (stopping_.load()) return make_error(status::unavailable, "module is stopping");
  pb::Envelope env;
  bool announce = false;
  {
    std::unique_lock lock(paths_mu_);
    if (paths_.find(spec.path) != paths_.end())
      return make_error(status::conflict, spec.path + " is already registered by this module");
    announce = announced_.load();
    if (announce) to_pb(spec, *env.mutable_register_path()->mutable_spec());
    std::string key = spec.path;
    paths_.emplace(std::move(key), PathEntry{std::move(spec), std::make_shared<const Route>(std::move(route))});
  }
  if (announce) uplink_.send(std::move(env));
  return {};
}

Status ModuleRuntime::unregister_path(std::string_view path) {
  bool announce = false;
  {
    std::unique_lock lock(paths_mu_);
    auto it = paths_.find(path);
    if (it == paths_.end()) return make_error(status::not_found, std::string(path) + " is not registered");
    paths_.erase(it);
    announce = announced_.load();
  }
  if (announce) {
    pb::Envelope env;
    env.mutable_unregister_path()->set_path(std::string(path));
    uplink_.send(std::move(env));
  }
  return {};
}

std::optional<std::string> ModuleRuntime::config(std::string_view key) const {
  std::lock_guard lock(config_mu_);
  auto it = opts_.config.find(std::string(key));
  if (it == opts_.config.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ModuleRuntime::config_keys() const {
  std::lock_guard lock(config_mu_);
  std::vector<std::string> keys;
  keys.reserve(opts_.config.size());
  for (const auto& [key, value] : opts_.config) keys.push_back(key);
  return keys;  // std::map: sorted
}

void ModuleRuntime::log(LogLevel level, std::string_view text) { log::write(level, log_topic_, text); }

// --- outgoing calls -------------------------------------------------------------------------

pb::Envelope ModuleRuntime::request_envelope(Message&& msg, std::uint64_t id, Clock::time_point deadline) {
  msg.ctx.source_module = opts_.module_name;
  if (t_current_id != 0) {
    msg.ctx.trace.parent_id = t_current_id;
    if (msg.ctx.trace.trace_id == 0) msg.ctx.trace.trace_id = t_current_trace;
  }
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  msg.timeout = std::max(left, milliseconds(1));
  pb::Envelope env;
  pb::Message* req = env.mutable_request();
  std::string body = std::move(msg.body);
  msg.body.clear();
  to_pb(msg, *req);
  req->set_body(std::move(body));
  req->set_id(id);
  return env;
}

void ModuleRuntime::start_call(std::uint64_t id, pb::Envelope&& env, std::shared_ptr<PendingCall> call) {
  {
    std::lock_guard lock(calls_mu_);
    calls_.emplace(id, std::move(call));
  }
  uplink_.send(std::move(env));
}

namespace {

milliseconds effective_timeout(milliseconds requested, milliseconds limit) {
  return requested.count() > 0 && requested < limit ? requested : limit;
}

}  // namespace

Response ModuleRuntime::send(Message msg) {
  if (!started_.load() || stopping_.load()) return respond(status::unavailable, "module is not running\n");
  if (std::this_thread::get_id() == io_thread_.get_id()) {
    // Waiting here would stall every callback of the loop, the answer's included.
    log::error(log_topic_, "send() called on the event loop; use send_async() there");
    return respond(status::internal_error, "send() on the event loop\n");
  }
  auto deadline = Clock::now() + effective_timeout(msg.timeout, opts_.call_timeout);
  auto call = std::make_shared<PendingCall>();
  std::uint64_t id = next_call_id_.fetch_add(1);
  start_call(id, request_envelope(std::move(msg), id, deadline), call);
  PendingCall& c = *call;
  if (!uplink_.wait([&c] { return c.done.load(); }, deadline)) {
    std::unique_lock lock(c.mu);
    c.cv.wait_until(lock, deadline, [&c] { return c.done.load(); });
  }
  if (!c.done.load()) {
    bool ours;
    {
      std::lock_guard lock(calls_mu_);
      ours = calls_.erase(id) > 0;
    }
    if (ours) return respond(status::gateway_timeout, "Timeout\n");
    std::unique_lock lock(c.mu);  // a completion is under way
    c.cv.wait(lock, [&c] { return c.done.load(); });
  }
  return std::move(c.response);
}

void ModuleRuntime::send_async(Message msg, ResponseCallback done) {
  if (!done) done = [](Response) {};
  if (!started_.load() || stopping_.load()) {
    asio::post(io_, [done = std::move(done)] { done(respond(status::unavailable, "module is not running\n")); });
    return;
  }
  milliseconds timeout = effective_timeout(msg.timeout, opts_.call_timeout);
  std::uint64_t id = next_call_id_.fetch_add(1);
  call_async(id, request_envelope(std::move(msg), id, Clock::now() + timeout), timeout, std::move(done),
             "a send_async callback");
}

void ModuleRuntime::call_async(std::uint64_t id, pb::Envelope&& env, milliseconds timeout, ResponseCallback done,
                               const char* what) {
  auto call = std::make_shared<PendingCall>();
  call->callback = std::move(done);
  call->what = what;
  start_call(id, std::move(env), call);
  asio::post(io_, [this, call, id, timeout] {
    if (call->done.load()) return;  // answered before the deadline was armed
    call->deadline = std::make_unique<asio::steady_timer>(io_, timeout);
    call->deadline->async_wait([this, id](const boost::system::error_code& ec) {
      if (!ec) complete_call(id, respond(status::gateway_timeout, "Timeout\n"));
    });
  });
}

void ModuleRuntime::complete_call(std::uint64_t id, Response resp) {
  std::shared_ptr<PendingCall> call;
  {
    std::lock_guard lock(calls_mu_);
    auto it = calls_.find(id);
    if (it == calls_.end()) return;  // timed out already, or never ours
    call = std::move(it->second);
    calls_.erase(it);
  }
  if (call->callback) {
    call->done.store(true);
    asio::post(io_, [this, call, resp = std::move(resp)]() mutable {
      if (call->deadline) call->deadline->cancel();
      ResponseCallback cb = std::move(call->callback);
      if (stopping_.load() || crashed_.load()) return;  // no module code after stop() began
      run_module_code([&] { cb(std::move(resp)); }, call->what);
    });
    return;
  }
  {
    std::lock_guard lock(call->mu);
    call->response = std::move(resp);
    call->done.store(true);
  }
  call->cv.notify_all();
}

void ModuleRuntime::fail_all_calls(int status, const std::string& why) {
  std::vector<std::uint64_t> ids;
  {
    std::lock_guard lock(calls_mu_);
    ids.reserve(calls_.size());
    for (const auto& [id, call] : calls_) ids.push_back(id);
  }
  for (std::uint64_t id : ids) complete_call(id, respond(status, why));
}

}  // namespace portal::host

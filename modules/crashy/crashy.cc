// crashy: a module that misbehaves on request, for tests and benchmarks of the hosts
// (crash isolation, deadlines, exit codes, nested calls, large bodies, events and slow
// subscribers, forged identities). Never installed.
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "portal/module.h"

namespace {

using portal::Core;
using portal::Message;
using portal::Response;
using portal::respond;
namespace status = portal::status;

Response segfault(const Message&) {
  volatile int* volatile p = nullptr;
  *p = 1;
  return respond(status::ok, "survived\n");
}

volatile int g_bottom = -1;  // never reached: the stack runs out first

[[gnu::noinline]] int recurse(int depth) {
  if (depth == g_bottom) return 0;
  volatile char frame[1024];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}

Response overflow(const Message&) { return respond(status::ok, std::to_string(recurse(0)) + "\n"); }

Response hang(const Message& m) {
  if (const std::string* ms = m.header("ms")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(ms->c_str())));
    return respond(status::ok, "slept " + *ms + " ms\n");
  }
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

Response exit_now(const Message& m) {
  std::string code = m.header_or("code", "0");
  std::_Exit(code == "fatal" ? portal::kExitFatalConfig : std::atoi(code.c_str()));
}

// Bytes through a socket pair on the module's event loop, including a readiness event with
// no operation pending (the reactor's bookkeeping path). The host and the module must share
// one Boost.Asio — its per-thread state and services — or this crashes.
Response io_round_trip(Core& core) {
  namespace asio = boost::asio;
  using asio::local::stream_protocol;
  struct State {
    explicit State(asio::io_context& io) : a(io), b(io), settle(io) {}
    stream_protocol::socket a, b;
    asio::steady_timer settle;
    char byte = 0;
    std::promise<std::string> done;
  };
  auto st = std::make_shared<State>(core.io());
  std::future<std::string> result = st->done.get_future();
  asio::post(core.io(), [st] {
    boost::system::error_code ec;
    asio::local::connect_pair(st->a, st->b, ec);
    if (ec) return st->done.set_value("connect_pair: " + ec.message());
    // The read waits in the reactor (nothing to read yet), then the write wakes it.
    st->b.async_read_some(asio::buffer(&st->byte, 1), [st](boost::system::error_code ec, std::size_t) {
      if (ec) return st->done.set_value(ec.message());
      // More data with no read pending: the reactor sees readiness and completes nothing.
      st->a.write_some(asio::buffer("y", 1), ec);
      st->settle.expires_after(std::chrono::milliseconds(5));
      st->settle.async_wait([st](boost::system::error_code) {
        st->done.set_value(std::string(1, st->byte));
        boost::system::error_code ignored;
        st->a.close(ignored);
        st->b.close(ignored);
      });
    });
    asio::post(st->a.get_executor(), [st] {
      boost::system::error_code ec;
      st->a.write_some(asio::buffer("x", 1), ec);
    });
  });
  st.reset();  // the event loop holds the sockets; they end there
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    return respond(status::gateway_timeout, "event loop did not answer\n");
  std::string got = result.get();
  return got == "x" ? respond(status::ok, "io ok\n") : respond(status::internal_error, got + "\n");
}

// A non-negative decimal, or nothing.
std::optional<std::uint64_t> parse_count(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// Calls the path in header `path` synchronously (with this request's method and body).
// `as_user` forges ctx.auth (the router must ignore it), `assert_user` sets ctx.asserted
// (honoured only with assert_identity = true), `fwd_<k>` travels as header `<k>`.
Response call(Core& core, const Message& m) {
  const std::string* path = m.header("path");
  if (!path) return respond(status::bad_request, "header 'path' required\n");
  portal::Message out = portal::make_message(m.method, *path, m.body);
  if (const std::string* ms = m.header("timeout_ms")) out.timeout = std::chrono::milliseconds(std::atol(ms->c_str()));
  if (const std::string* user = m.header("as_user")) out.ctx.auth = {*user, {"root", "admin"}, {}};
  if (const std::string* user = m.header("assert_user")) out.ctx.asserted.user = *user;
  for (const portal::Header& h : m.headers)
    if (h.key.starts_with("fwd_") && h.key.size() > 4) out.add_header(h.key.substr(4), h.value);
  return core.send(std::move(out));
}

// Emits header `count` (default 1) events to header `path` with the request's body.
Response emit_events(Core& core, const Message& m) {
  const std::string* path = m.header("path");
  if (!path) return respond(status::bad_request, "header 'path' required\n");
  std::optional<std::uint64_t> count = parse_count(m.header_or("count", "1"));
  if (!count) return respond(status::bad_request, "header 'count' must be a number\n");
  for (std::uint64_t i = 0; i < *count; ++i) core.emit(*path, m.body);
  return respond(status::ok, "emitted " + std::to_string(*count) + "\n");
}

class CrashyModule final : public portal::Module {
 public:
  portal::Status load(Core& core) override {
    std::string fail = core.config("fail_load").value_or("");
    if (fail == "fatal") return portal::make_error(portal::kFatalConfig, "fail_load = fatal");
    if (fail == "error") return portal::make_error(status::internal_error, "fail_load = error");
    if (auto ms = core.config("hang_load")) std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(ms->c_str())));
    if (portal::Status s = load_events(core); !s) return s;
    const std::pair<const char*, portal::Handler> routes[] = {
        {"/crashy/functions/segfault", segfault},
        {"/crashy/functions/overflow", overflow},
        {"/crashy/functions/abort", [](const Message&) -> Response { std::abort(); }},
        {"/crashy/functions/throw", [](const Message&) -> Response { throw std::runtime_error("crashy threw"); }},
        {"/crashy/functions/hang", hang},
        {"/crashy/functions/exit", exit_now},
        {"/crashy/resources/pid",
         [](const Message&) { return respond(status::ok, std::to_string(::getpid()) + "\n"); }},
        {"/crashy/functions/echo", [](const Message& m) { return respond(status::ok, m.body); }},
        {"/crashy/functions/call", [&core](const Message& m) { return call(core, m); }},
        {"/crashy/functions/io", [&core](const Message&) { return io_round_trip(core); }},
        {"/crashy/functions/emit", [&core](const Message& m) { return emit_events(core, m); }},
        {"/crashy/resources/events",
         [this](const Message&) {
           return respond(status::ok, "seen=" + std::to_string(seen_.load()) +
                                          " dropped=" + std::to_string(dropped_.load()) + "\n");
         }},
    };
    for (const auto& [path, handler] : routes) {
      portal::Status s = core.register_path({.path = path}, handler);
      if (!s) return s;
    }
    return {};
  }

 private:
  // Two declared events, and with `subscribe = <pattern>` a subscription that counts what
  // it sees — slowly with `subscriber_delay_ms` (sleeping on the event loop is the point:
  // the router must drop for this subscriber, not stall the others).
  portal::Status load_events(Core& core) {
    if (portal::Status s = core.declare_event({.path = "/events/crashy/ping", .description = "Test event"}); !s)
      return s;
    if (portal::Status s = core.declare_event(
            {.path = "/events/crashy/secret", .description = "Test event for admins", .labels = {"admin"}});
        !s)
      return s;
    std::optional<std::string> pattern = core.config("subscribe");
    if (!pattern) return {};
    std::optional<std::uint64_t> delay = parse_count(core.config("subscriber_delay_ms").value_or("0"));
    if (!delay) return portal::make_error(portal::kFatalConfig, "subscriber_delay_ms must be a number");
    core.subscribe(
        *pattern,
        [this, delay = std::chrono::milliseconds(*delay)](const portal::Event& ev) {
          if (delay.count() > 0) std::this_thread::sleep_for(delay);
          dropped_.fetch_add(ev.dropped);
          seen_.fetch_add(1);
        },
        [&core, p = *pattern](portal::Result<portal::SubscriptionId> r) {
          if (!r) core.log(portal::LogLevel::warn, "subscribing " + p + " failed: " + r.error().message);
        });
    return {};
  }

  std::atomic<std::uint64_t> seen_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace

PORTAL_MODULE(CrashyModule, "crashy", "1.0.0", "Misbehaves on request (tests only)")

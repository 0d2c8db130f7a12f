// crashy: a module that misbehaves on request, for tests and benchmarks of the hosts
// (crash isolation, deadlines, exit codes, nested calls, large bodies). Never installed.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
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

class CrashyModule final : public portal::Module {
 public:
  portal::Status load(Core& core) override {
    std::string fail = core.config("fail_load").value_or("");
    if (fail == "fatal") return portal::make_error(portal::kFatalConfig, "fail_load = fatal");
    if (fail == "error") return portal::make_error(status::internal_error, "fail_load = error");
    if (auto ms = core.config("hang_load")) std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(ms->c_str())));
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
    };
    for (const auto& [path, handler] : routes) {
      portal::Status s = core.register_path({.path = path}, handler);
      if (!s) return s;
    }
    return {};
  }

 private:
  // Calls the path in header `path` synchronously (with this request's method and body).
  static Response call(Core& core, const Message& m) {
    const std::string* path = m.header("path");
    if (!path) return respond(status::bad_request, "header 'path' required\n");
    portal::Message out = portal::make_message(m.method, *path, m.body);
    if (const std::string* ms = m.header("timeout_ms")) out.timeout = std::chrono::milliseconds(std::atol(ms->c_str()));
    return core.send(std::move(out));
  }
};

}  // namespace

PORTAL_MODULE(CrashyModule, "crashy", "1.0.0", "Misbehaves on request (tests only)")

// The module on the stub router, listening on 127.0.0.1 port 0. The stub's event loop runs
// only when the test runs it: clients run on a thread of their own (run()) while the test's
// thread pumps the loop until they are done.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <string>

#include <gtest/gtest.h>

#include "portal/result.h"
#include "test_client.h"
#include "testing/stub_router.h"

namespace portal::web::test {

using Clock = std::chrono::steady_clock;

class WebTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stub_.set_config("bind", "127.0.0.1");
    stub_.set_config("port", "0");
    deadline_ = Clock::now() + std::chrono::seconds(60);
  }
  void TearDown() override {
    if (stub_.loaded()) {
      EXPECT_TRUE(stub_.unload());
      EXPECT_TRUE(stub_.leftovers().empty()) << "the module removes what it registered";
    }
  }

  // Loads the module and reads its port from the status path.
  Status load() {
    Status st = stub_.load_library(MOD_WEB_PATH);
    if (!st) return st;
    port_ = port_from("Port: ");
    if (port_ == 0) return make_error(500, "no port in the status: " + status());
    return {};
  }
  std::uint16_t port_from(const std::string& key) {
    const std::string s = status();
    const std::size_t at = s.find("\n" + key);
    return at == std::string::npos ? 0 : static_cast<std::uint16_t>(std::stoi(s.substr(at + 1 + key.size())));
  }
  std::string status() { return stub_.request(Method::get, "/web/resources/status").body; }

  // One round of the module's event loop.
  bool pump() {
    if (Clock::now() > deadline_) return false;
    stub_.poll();
    boost::asio::io_context& io = stub_.io();
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(1));
    return true;
  }
  bool pump_until(const std::function<bool()>& done) {
    while (!done())
      if (!pump()) return false;
    return true;
  }
  // Runs `fn` (client work) on its own thread while this one runs the event loop.
  template <class Fn>
  auto run(Fn&& fn) {
    auto f = std::async(std::launch::async, std::forward<Fn>(fn));
    while (f.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready)
      if (!pump()) break;
    return f.get();
  }
  // One request on a fresh connection.
  std::optional<Reply> fetch(const std::string& request) {
    return run([&] {
      Client c(port_);
      if (!c.connected() || !c.send(request)) return std::optional<Reply>();
      return c.read_response();
    });
  }

  testing::StubRouter stub_;
  std::uint16_t port_ = 0;
  Clock::time_point deadline_;
};

}  // namespace portal::web::test

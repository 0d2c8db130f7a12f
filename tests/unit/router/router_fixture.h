// Test fixture for the router in one process: the test plays portald (control socket) and
// the workers (channels it creates), so every rule is checked on the real Router and loop.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <thread>

#include "ipc/control.h"
#include "ipc/endpoint.h"
#include "router/router.h"

namespace portal::router::testing {

using namespace std::chrono_literals;

// The worker side of one channel.
class FakeWorker {
 public:
  FakeWorker(std::string name, std::unique_ptr<ipc::RingEndpoint> ep) : name_(std::move(name)), ep_(std::move(ep)) {}

  void send(const pb::Envelope& env) {
    std::string s;
    env.SerializeToString(&s);
    ep_->send(std::move(s));
    ep_->flush();
    ep_->notify();
  }
  // The next envelope that is not an attach, or nothing within `timeout`.
  std::optional<pb::Envelope> next(std::chrono::milliseconds timeout = 2000ms) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::span<const std::byte> rec;
      if (ep_->receive(rec, nullptr) == ipc::ReadStatus::record) {
        pb::Envelope env;
        env.ParseFromArray(rec.data(), static_cast<int>(rec.size()));
        ep_->release();
        if (env.has_attach()) continue;
        return env;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (ep_->prepare_sleep()) {
        pollfd p{ep_->wait_fd(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
        ep_->woke();
      }
    }
  }
  void hello(std::vector<std::string> paths, std::uint64_t generation = 1) {
    pb::Envelope env;
    auto* h = env.mutable_hello();
    h->set_module(name_);
    h->set_version("1.0.0");
    h->set_generation(generation);
    for (auto& p : paths) h->add_paths()->set_path(p);
    send(env);
  }
  void request(std::uint64_t id, const std::string& path, std::uint32_t timeout_ms = 0) {
    pb::Envelope env;
    env.mutable_request()->set_id(id);
    env.mutable_request()->set_path(path);
    env.mutable_request()->set_timeout_ms(timeout_ms);
    send(env);
  }
  void respond(std::uint64_t id, std::uint32_t status, const std::string& body) {
    pb::Envelope env;
    env.mutable_response()->set_id(id);
    env.mutable_response()->set_status(status);
    env.mutable_response()->set_body(body);
    send(env);
  }
  ipc::RingEndpoint& endpoint() { return *ep_; }

 private:
  std::string name_;
  std::unique_ptr<ipc::RingEndpoint> ep_;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sp[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp), 0);
    sup_.reset(sp[0]);
    router_fd_.reset(sp[1]);
    router_ = std::make_unique<Router>(loop_, router_fd_.get());
    router_->start();
    thread_ = std::thread([this] { loop_.run(); });
    pb::Control c;
    c.mutable_configure()->set_instance("t");
    configure(*c.mutable_configure());
    ASSERT_TRUE(ipc::send_control(sup_.get(), c));
    ASSERT_TRUE(control(c));
    ASSERT_TRUE(c.has_router_ready());
  }
  // Settings the router starts with ("core.data_dir", ...).
  virtual void configure(pb::Configure&) {}
  void TearDown() override {
    loop_.post([this] { loop_.stop(); });
    thread_.join();
    router_.reset();
  }
  // Next control message from the router.
  bool control(pb::Control& out, int timeout_ms = 2000) {
    pollfd p{sup_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    std::vector<ipc::UniqueFd> fds;
    return ipc::recv_control(sup_.get(), out, fds, nullptr) == ipc::ControlRead::message;
  }
  std::unique_ptr<FakeWorker> attach(const std::string& name, std::uint64_t gen = 1, std::uint32_t ring = 1 << 16,
                                     std::uint32_t timeout_ms = 5000, std::uint32_t queue_limit = 1024) {
    auto fds = ipc::create_channel(name.c_str(), ring, gen);
    EXPECT_TRUE(fds);
    pb::Control c;
    auto* a = c.mutable_attach_worker();
    a->mutable_status()->set_name(name);
    a->mutable_status()->set_generation(gen);
    a->mutable_status()->set_state("starting");
    a->set_transport("ring");
    a->set_timeout_ms(timeout_ms);
    a->set_queue_limit(queue_limit);
    EXPECT_TRUE(ipc::send_control(sup_.get(), c, {fds->memfd.get(), fds->router_bell.get(), fds->worker_bell.get()}));
    auto ch = ipc::Channel::map(fds->memfd.get(), ipc::Side::worker, gen);
    EXPECT_TRUE(ch);
    return std::make_unique<FakeWorker>(
        name, std::make_unique<ipc::RingEndpoint>(std::move(*ch), std::move(fds->worker_bell), std::move(fds->router_bell)));
  }
  // Attaches and says hello; waits for worker_ready.
  std::unique_ptr<FakeWorker> ready(const std::string& name, std::vector<std::string> paths, std::uint64_t gen = 1,
                                    std::uint32_t timeout_ms = 5000, std::uint32_t ring = 1 << 16,
                                    std::uint32_t queue_limit = 1024) {
    auto w = attach(name, gen, ring, timeout_ms, queue_limit);
    w->hello(std::move(paths), gen);
    pb::Control c;
    while (control(c))
      if (c.has_worker_ready() && c.worker_ready().module() == name) return w;
    ADD_FAILURE() << name << " never became ready";
    return w;
  }

  EventLoop loop_;
  ipc::UniqueFd sup_, router_fd_;
  std::unique_ptr<Router> router_;
  std::thread thread_;
};

}  // namespace portal::router::testing

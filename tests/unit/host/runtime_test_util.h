// Helpers for the ModuleRuntime tests: a module made of lambdas and an Uplink that records
// what the runtime sends (and can answer it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "host/runtime.h"

namespace portal::test {

class LambdaModule final : public Module {
 public:
  std::function<Status(Core&)> on_load = [](Core&) { return Status{}; };
  std::function<void(Core&)> on_unload = [](Core&) {};
  std::function<void(Core&, std::string_view)> on_config = [](Core&, std::string_view) {};
  Status load(Core& core) override { return on_load(core); }
  void unload(Core& core) override { on_unload(core); }
  void config_changed(Core& core, std::string_view key) override { on_config(core, key); }
};

class RecordingUplink final : public host::Uplink {
 public:
  // Runs on the sending thread after the envelope is recorded (e.g. to answer it).
  std::function<void(const pb::Envelope&)> on_send;

  void send(pb::Envelope&& env) override {
    {
      std::lock_guard lock(mu_);
      sent_.push_back(env);
    }
    cv_.notify_all();
    if (on_send) on_send(sent_copy_last());
  }

  std::vector<pb::Envelope> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    sent_.clear();
  }
  // Waits until some envelope satisfies `pred`; returns it (or an empty one on timeout).
  pb::Envelope wait_for(const std::function<bool(const pb::Envelope&)>& pred,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mu_);
    pb::Envelope found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : sent_)
        if (pred(e)) {
          found = e;
          return true;
        }
      return false;
    });
    return found;
  }

 private:
  pb::Envelope sent_copy_last() {
    std::lock_guard lock(mu_);
    return sent_.back();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<pb::Envelope> sent_;
};

inline pb::Envelope request_env(std::uint64_t id, const std::string& path, const std::string& body = {}) {
  pb::Envelope env;
  pb::Message* m = env.mutable_request();
  m->set_id(id);
  m->set_path(path);
  m->set_method(pb::GET);
  m->set_body(body);
  m->mutable_ctx()->mutable_trace()->set_trace_id(1000 + id);
  return env;
}

inline pb::Envelope response_env(std::uint64_t id, int status, const std::string& body) {
  pb::Envelope env;
  env.mutable_response()->set_id(id);
  env.mutable_response()->set_status(static_cast<std::uint32_t>(status));
  env.mutable_response()->set_body(body);
  return env;
}

// Polls `pred` until true or the timeout passes (for effects on other threads).
inline bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace portal::test

// A storage provider that is a module (docs/PROTOCOL.md 10): the store thread calls it like
// any StorageProvider, and each call becomes a message to the module's /<m>/storage/* paths,
// routed by the router's loop under the system identity (label sys.storage). The store
// thread waits for the answer; the loop never waits for the store thread, so this cannot
// deadlock. A module that is down answers 503: the fan-out keeps the write pending and
// replays it when the module is back.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "portal.pb.h"
#include "router/store/storage_provider.h"

namespace portal::router {

// Sends one message to the module and calls back (on the loop) with the answer.
using ProviderTransport = std::function<void(pb::Message msg, std::function<void(pb::Response&)> done)>;

class RemoteProvider final : public store::StorageProvider {
 public:
  // `post` runs a function on the router's loop; `send` (called there) routes the message.
  RemoteProvider(std::string name, std::string module, std::function<void(std::function<void()>)> post,
                 ProviderTransport send, std::shared_ptr<std::atomic<bool>> stopping,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

  const std::string& module() const { return module_; }

  std::string name() const override { return name_; }
  Result<std::vector<std::string>> list_users() override;
  Result<store::UserRecord> load_user(const std::string& name) override;
  Status save_user(const store::UserRecord& user) override;
  Status delete_user(const std::string& name) override;
  Result<std::vector<std::string>> list_groups() override;
  Result<store::GroupRecord> load_group(const std::string& name) override;
  Status save_group(const store::GroupRecord& group) override;
  Status delete_group(const std::string& name) override;
  Result<std::string> get_config(const std::string& module, const std::string& key) override;
  Status set_config(const store::ConfigEntry& entry) override;
  Result<std::vector<store::ConfigEntry>> list_config(const std::string& module) override;
  std::string status() override;

 private:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // One round trip; a non-2xx answer becomes an error with its status and body.
  Result<pb::Response> call(pb::Method method, const std::string& what, Headers headers);
  // Posts `msg` to the loop and waits for the answer; nullopt on timeout or shutdown.
  std::optional<pb::Response> round_trip(pb::Message msg);
  Result<std::vector<std::string>> names(const std::string& what);

  std::string name_, module_;
  std::function<void(std::function<void()>)> post_;
  ProviderTransport send_;
  std::shared_ptr<std::atomic<bool>> stopping_;
  std::chrono::milliseconds timeout_;
};

}  // namespace portal::router

// One door to storage: the file store plus N storage providers (README.md).
//
// Writes: the file store first — it is the source of truth, so when it fails the write
// fails and no provider sees it. Then every provider, each independently: a provider
// that fails is reported in the WriteReport, never blocks the others, and keeps the write
// in its pending queue. Every later write to that provider first replays its queue (in
// order, so an old write can never overwrite a newer one); sync() replays it on demand.
// A queue longer than kMaxPending is dropped and replaced by a full resync from the file
// store at the next sync.
//
// Reads: providers in the order they were added, skipping any with pending writes (its
// answer could be stale); the first success wins; the file store answers last.
//
// All calls are serialized by one mutex; providers are called with it held.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "router/store/file_store.h"
#include "router/store/storage_provider.h"

namespace portal::store {

struct ProviderFailure {
  std::string provider;
  Error error;
};

struct WriteReport {
  Status file;                             // failed => nothing was written anywhere
  std::vector<ProviderFailure> providers;  // did not take the write (now pending there)
  bool ok() const { return file.ok(); }
};

class StorageFanout {
 public:
  static constexpr std::size_t kMaxPending = 10000;

  explicit StorageFanout(FileStore& files) : files_(files) {}

  // 409 if a provider of that name is already attached. A new provider gets no history;
  // call sync(name, /*full=*/true) to push the file store's contents to it.
  Status add_provider(std::shared_ptr<StorageProvider> provider);
  bool remove_provider(const std::string& name);
  std::vector<std::string> provider_names() const;
  std::size_t pending(const std::string& name) const;
  // The file store itself (for a caller that must tell it apart from the providers).
  FileStore& files() { return files_; }

  WriteReport save_user(const UserRecord& user);
  WriteReport delete_user(const std::string& name);
  WriteReport save_group(const GroupRecord& group);
  WriteReport delete_group(const std::string& name);
  WriteReport set_config(const ConfigEntry& entry);

  Result<std::vector<std::string>> list_users();
  Result<UserRecord> load_user(const std::string& name);
  Result<std::vector<std::string>> list_groups();
  Result<GroupRecord> load_group(const std::string& name);
  Result<std::string> get_config(const std::string& module, const std::string& key);
  Result<std::vector<ConfigEntry>> list_config(const std::string& module);

  // Replays the writes `name` missed; stops at the first failure (the rest stay pending).
  // `full` (or an overflowed queue) pushes every user, group and config entry of the file
  // store instead and deletes users and groups the file store does not have. 404 = no such
  // provider.
  Status sync(const std::string& name, bool full = false);

  // "[file]\n<status>[<provider>] (pending: N)\n<status>..."
  std::string status();
  // The status text of one store: "file" or a provider; 404 when there is no such one.
  Result<std::string> status_of(const std::string& name);

 private:
  using Write = std::function<Status(StorageProvider&)>;
  struct Attached {
    std::shared_ptr<StorageProvider> provider;
    std::deque<Write> pending;
    bool needs_full_sync = false;
  };

  WriteReport fan_out(Status file_result, const Write& write);
  Status flush(Attached& a);
  Status push_everything(StorageProvider& p);
  Attached* find(const std::string& name);
  template <class T, class Read>
  Result<T> read_first(Read read);

  FileStore& files_;
  std::vector<Attached> providers_;
  mutable std::mutex mu_;
};

}  // namespace portal::store

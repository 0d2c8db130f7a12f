#include "router/store/storage_fanout.h"

#include <algorithm>

namespace portal::store {

Status StorageFanout::add_provider(std::shared_ptr<StorageProvider> provider) {
  std::lock_guard lock(mu_);
  if (!provider) return make_error(400, "no provider");
  if (provider->name() == files_.name() || find(provider->name()))
    return make_error(409, "storage provider '" + provider->name() + "' already attached");
  providers_.push_back({std::move(provider), {}, false});
  return {};
}

bool StorageFanout::remove_provider(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(providers_.begin(), providers_.end(),
                         [&](const Attached& a) { return a.provider->name() == name; });
  if (it == providers_.end()) return false;
  providers_.erase(it);
  return true;
}

std::vector<std::string> StorageFanout::provider_names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& a : providers_) out.push_back(a.provider->name());
  return out;
}

std::size_t StorageFanout::pending(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& a : providers_)
    if (a.provider->name() == name) return a.pending.size();
  return 0;
}

StorageFanout::Attached* StorageFanout::find(const std::string& name) {
  for (auto& a : providers_)
    if (a.provider->name() == name) return &a;
  return nullptr;
}

Status StorageFanout::flush(Attached& a) {
  if (a.needs_full_sync) return make_error(503, "needs a full sync");
  while (!a.pending.empty()) {
    if (auto ok = a.pending.front()(*a.provider); !ok) return ok;
    a.pending.pop_front();
  }
  return {};
}

WriteReport StorageFanout::fan_out(Status file_result, const Write& write) {
  WriteReport report{std::move(file_result), {}};
  if (!report.file) return report;
  for (auto& a : providers_) {
    if (!a.needs_full_sync) a.pending.push_back(write);
    if (a.pending.size() > kMaxPending) {
      a.pending.clear();
      a.needs_full_sync = true;
    }
    if (auto ok = flush(a); !ok) report.providers.push_back({a.provider->name(), ok.error()});
  }
  return report;
}

WriteReport StorageFanout::save_user(const UserRecord& user) {
  std::lock_guard lock(mu_);
  return fan_out(files_.save_user(user), [user](StorageProvider& p) { return p.save_user(user); });
}

WriteReport StorageFanout::delete_user(const std::string& name) {
  std::lock_guard lock(mu_);
  return fan_out(files_.delete_user(name), [name](StorageProvider& p) { return p.delete_user(name); });
}

WriteReport StorageFanout::save_group(const GroupRecord& group) {
  std::lock_guard lock(mu_);
  return fan_out(files_.save_group(group), [group](StorageProvider& p) { return p.save_group(group); });
}

WriteReport StorageFanout::delete_group(const std::string& name) {
  std::lock_guard lock(mu_);
  return fan_out(files_.delete_group(name), [name](StorageProvider& p) { return p.delete_group(name); });
}

WriteReport StorageFanout::set_config(const ConfigEntry& entry) {
  std::lock_guard lock(mu_);
  return fan_out(files_.set_config(entry), [entry](StorageProvider& p) { return p.set_config(entry); });
}

template <class T, class Read>
Result<T> StorageFanout::read_first(Read read) {
  std::lock_guard lock(mu_);
  for (auto& a : providers_) {
    if (!a.pending.empty() || a.needs_full_sync) continue;
    Result<T> r = read(*a.provider);
    if (r) return r;
  }
  return read(files_);
}

Result<std::vector<std::string>> StorageFanout::list_users() {
  return read_first<std::vector<std::string>>([](StorageProvider& p) { return p.list_users(); });
}

Result<UserRecord> StorageFanout::load_user(const std::string& name) {
  return read_first<UserRecord>([&](StorageProvider& p) { return p.load_user(name); });
}

Result<std::vector<std::string>> StorageFanout::list_groups() {
  return read_first<std::vector<std::string>>([](StorageProvider& p) { return p.list_groups(); });
}

Result<GroupRecord> StorageFanout::load_group(const std::string& name) {
  return read_first<GroupRecord>([&](StorageProvider& p) { return p.load_group(name); });
}

Result<std::string> StorageFanout::get_config(const std::string& module, const std::string& key) {
  return read_first<std::string>([&](StorageProvider& p) { return p.get_config(module, key); });
}

Result<std::vector<ConfigEntry>> StorageFanout::list_config(const std::string& module) {
  return read_first<std::vector<ConfigEntry>>([&](StorageProvider& p) { return p.list_config(module); });
}

Status StorageFanout::push_everything(StorageProvider& p) {
  auto users = files_.load_users();
  auto groups = files_.load_groups();
  auto config = files_.list_config("");
  if (!config) return config.error();
  auto stale = [](auto have, const auto& keep) {
    std::vector<std::string> out;
    if (!have) return out;
    for (const auto& n : *have)
      if (std::none_of(keep.begin(), keep.end(), [&](const auto& r) { return r.name == n; })) out.push_back(n);
    return out;
  };
  for (const auto& n : stale(p.list_users(), users.items))
    if (auto ok = p.delete_user(n); !ok) return ok;
  for (const auto& n : stale(p.list_groups(), groups.items))
    if (auto ok = p.delete_group(n); !ok) return ok;
  for (const auto& u : users.items)
    if (auto ok = p.save_user(u); !ok) return ok;
  for (const auto& g : groups.items)
    if (auto ok = p.save_group(g); !ok) return ok;
  for (const auto& e : *config)
    if (auto ok = p.set_config(e); !ok) return ok;
  return {};
}

Status StorageFanout::sync(const std::string& name, bool full) {
  std::lock_guard lock(mu_);
  Attached* a = find(name);
  if (!a) return make_error(404, "no storage provider '" + name + "'");
  if (full || a->needs_full_sync) {
    a->needs_full_sync = true;
    if (auto ok = push_everything(*a->provider); !ok) return ok;
    a->needs_full_sync = false;
    a->pending.clear();
    return {};
  }
  return flush(*a);
}

std::string StorageFanout::status() {
  std::lock_guard lock(mu_);
  std::string out = "[file]\n" + files_.status();
  for (auto& a : providers_) {
    out += "[" + a.provider->name() + "] (pending: " + std::to_string(a.pending.size()) +
           (a.needs_full_sync ? ", needs full sync" : "") + ")\n" + a.provider->status();
  }
  return out;
}

Result<std::string> StorageFanout::status_of(const std::string& name) {
  std::lock_guard lock(mu_);
  if (name == files_.name()) return files_.status();
  Attached* a = find(name);
  if (!a) return make_error(404, "no storage provider '" + name + "'");
  std::string out = a->provider->status();
  if (!a->pending.empty() || a->needs_full_sync)
    out += "Pending writes: " + std::to_string(a->pending.size()) + (a->needs_full_sync ? " (needs a full sync)" : "") + "\n";
  return out;
}

}  // namespace portal::store

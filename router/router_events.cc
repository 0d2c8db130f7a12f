// Router: identity start-up, events and subscriptions, runtime settings, housekeeping.

#include "common/log.h"
#include "common/util.h"
#include "router/core_paths.h"
#include "portal/config_values.h"
#include "router/core_util.h"
#include "router/events/pattern.h"
#include "router/router.h"

namespace portal::router {

namespace {

constexpr const char* kTopic = "router";
constexpr std::uint64_t kHousekeepingUs = 10'000'000;  // sessions, throttles, locks

bool truthy(const std::string& v) { return v == "true" || v == "1" || v == "yes"; }

}  // namespace

// --- start-up --------------------------------------------------------------------------------

void Router::open_identity() {
  auto settings = AuthService::settings_from(config_);
  if (!settings) {
    log::error(kTopic, "identity: " + settings.error().message + "; requests with credentials are refused");
    return;
  }
  std::vector<std::string> warnings;
  Status s = auth_->open(*settings, warnings);
  for (const auto& w : warnings) log::warn("store", w);
  if (!s) {
    log::error(kTopic, "identity: " + s.error().message + "; requests with credentials are refused");
    return;
  }
  log::info(kTopic, std::to_string(auth_->users().size()) + " users loaded from " + settings->data_dir);
  auto entries = auth_->store_for_startup()->list_config("");
  if (!entries) {
    log::warn("store", "runtime settings: " + entries.error().message);
  } else {
    for (auto& e : *entries) {
      config_["mod_" + e.module + "." + e.key] = e.value;
      overrides_[e.module][e.key] = std::move(e.value);
    }
  }
  next_housekeeping_us_ = mono_us() + kHousekeepingUs;
  arm_deadline(next_housekeeping_us_);
}

void Router::housekeeping() {
  auth_->sweep();
  // A provider that missed writes (its backend was down) gets them again now and then, not
  // only on the next write: a user created during a database outage reaches it on its own.
  for (const auto& [module, provider] : providers_) {
    std::string name = provider->name();
    auth_->with_store(
        [name](store::StorageFanout& f) { return f.pending(name) > 0 ? f.sync(name) : Status{}; },
        [name](Status s) {
          if (!s) log::debug("store", "provider '" + name + "' still behind: " + s.error().message);
        });
  }
  for (const auto& l : locks_.sweep(events::LockClock::now()))
    log::info(kTopic, "lock '" + l.resource + "' of '" + l.owner + "' released: no keepalive");
  next_housekeeping_us_ = mono_us() + kHousekeepingUs;
}

bool Router::may_assert_identity(const std::string& module) const {
  auto it = config_.find("mod_" + module + ".assert_identity");
  return it != config_.end() && truthy(it->second);
}

std::optional<std::string> Router::peer_user(const std::string& module, std::int64_t uid) const {
  auto it = config_.find("mod_" + module + ".peer_users");
  if (it == config_.end()) return std::nullopt;
  const std::string want = std::to_string(uid) + ":";
  std::string_view list = it->second;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.substr(0, want.size()) == want && item.size() > want.size()) return std::string(item.substr(want.size()));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

// --- runtime settings ------------------------------------------------------------------------

std::optional<std::string> Router::module_setting(const std::string& module, const std::string& key) const {
  if (auto m = overrides_.find(module); m != overrides_.end())
    if (auto k = m->second.find(key); k != m->second.end()) return k->second;
  if (auto it = config_.find("mod_" + module + "." + key); it != config_.end()) return it->second;
  return std::nullopt;
}

std::map<std::string, std::string> Router::module_settings(const std::string& module) const {
  std::map<std::string, std::string> out;
  const std::string prefix = module.empty() ? "mod_" : "mod_" + module + ".";
  for (auto it = config_.lower_bound(prefix); it != config_.end() && it->first.rfind(prefix, 0) == 0; ++it)
    out.insert(*it);
  return out;
}

void Router::set_module_setting(const std::string& module, const std::string& key, const std::string& value,
                                std::function<void(Status)> done) {
  store::ConfigEntry entry{module, key, value};
  auth_->with_store(
      [entry](store::StorageFanout& f) {
        store::WriteReport r = f.set_config(entry);
        for (const auto& p : r.providers)
          log::warn("store", "provider '" + p.provider + "' missed a setting (kept pending): " + p.error.message);
        return r.file;
      },
      [this, entry, done = std::move(done)](Status s) {
        if (s) {
          overrides_[entry.module][entry.key] = entry.value;
          config_["mod_" + entry.module + "." + entry.key] = entry.value;
          auto m = modules_.find(entry.module);
          if (m != modules_.end() && m->second.link && m->second.ready) {
            pb::Envelope env;
            env.mutable_config()->set_merge(true);
            (*env.mutable_config()->mutable_values())[entry.key] = entry.value;
            m->second.link->deliver(env);
            mark_dirty(m->second.link.get());
          }
          emit("/events/config/set", "mod_" + entry.module + "." + entry.key);
        }
        done(std::move(s));
        flush_dirty();
      });
}

void Router::push_overrides(ModuleEntry& m) {
  auto it = overrides_.find(m.name);
  if (it == overrides_.end() || it->second.empty() || !m.link) return;
  pb::Envelope env;
  env.mutable_config()->set_merge(true);
  for (const auto& [k, v] : it->second) (*env.mutable_config()->mutable_values())[k] = v;
  m.link->deliver(env);
  mark_dirty(m.link.get());
}

// --- storage providers (docs/PROTOCOL.md 10) -------------------------------------------------

void Router::attach_provider(ModuleEntry& m) {
  auto it = config_.find("mod_" + m.name + ".storage_provider");
  if (it == config_.end() || it->second.empty() || !auth_->is_open()) return;
  if (auto known = providers_.find(m.name); known != providers_.end()) {
    // Back after a restart: replay what it missed while it was away.
    std::string name = known->second->name();
    auth_->with_store([name](store::StorageFanout& f) { return f.sync(name); },
                      [name](Status s) {
                        if (!s) log::warn("store", "provider '" + name + "': replay failed: " + s.error().message);
                      });
    return;
  }
  const std::string name = it->second;
  auto provider = std::make_shared<RemoteProvider>(
      name, m.name, [this](std::function<void()> fn) { loop_.post(std::move(fn)); },
      [this](pb::Message msg, std::function<void(pb::Response&)> done) {
        Origin o;
        o.callback = std::move(done);
        route_as(std::move(msg), std::move(o), Caller{std::string(events::kSystemUser), {"sys.storage"}, {}});
        flush_dirty();
      },
      stopping_);
  providers_[m.name] = provider;
  // First attach: what the provider has and the file store lacks comes in (first success
  // wins), then the provider gets everything the file store has.
  struct Imported {
    std::vector<store::UserRecord> users;
    std::vector<store::GroupRecord> groups;
    std::vector<store::ConfigEntry> config;
  };
  auto imported = std::make_shared<Imported>();
  auth_->with_store(
      [provider, imported, name](store::StorageFanout& f) -> Status {
        if (Status s = f.add_provider(provider); !s) return s;
        store::FileStore& files = f.files();
        if (auto users = provider->list_users())
          for (const auto& n : *users)
            if (!files.load_user(n))
              if (auto u = provider->load_user(n); u && files.save_user(*u)) imported->users.push_back(*u);
        if (auto groups = provider->list_groups())
          for (const auto& n : *groups)
            if (!files.load_group(n))
              if (auto g = provider->load_group(n); g && files.save_group(*g)) imported->groups.push_back(*g);
        if (auto entries = provider->list_config(""))
          for (const auto& e : *entries)
            if (!files.get_config(e.module, e.key) && files.set_config(e)) imported->config.push_back(e);
        return f.sync(name, /*full=*/true);
      },
      [this, imported, name](Status s) {
        if (!s) log::warn("store", "provider '" + name + "': " + s.error().message + " (writes stay pending)");
        else log::info("store", "storage provider '" + name + "' attached");
        auth_->adopt(std::move(imported->users), std::move(imported->groups));
        for (auto& e : imported->config) {
          config_["mod_" + e.module + "." + e.key] = e.value;
          overrides_[e.module][e.key] = e.value;
          if (auto mod = modules_.find(e.module); mod != modules_.end()) push_overrides(mod->second);
        }
        flush_dirty();
      });
}

// --- events ------------------------------------------------------------------------------

void Router::declare_event(const std::string& module, const pb::EventSpec& spec) {
  const std::string& path = spec.path();
  if (module != "core" && path.rfind("/events/" + module + "/", 0) != 0) {
    log::warn(kTopic, module + ": refused event " + path + " (a module declares events under /events/" + module + "/)");
    return;
  }
  events::EventDecl d{path, spec.description(), {spec.labels().begin(), spec.labels().end()}, module};
  if (Status s = events_.declare(d); !s) {
    log::warn(kTopic, module + ": event " + path + ": " + s.error().message);
    return;
  }
  // COMPAT.md 1.8: a declared event is also a path, with the event's labels.
  PathEntry e;
  e.path = path;
  e.owner = module;
  e.labels = d.labels;
  e.description = d.description;
  e.access = 1;
  if (const PathEntry* old = paths_.exact(path); !old) paths_.add(std::move(e));
}

void Router::forget_events(const std::string& module) {
  for (const std::string& path : events_.drop_module(module)) paths_.remove(path, module);
}

void Router::emit(const std::string& path, const std::string& body, std::uint64_t trace_id) {
  events_.emit(path, body, trace_id);
}

void Router::on_event_method(pb::Message& msg, Origin& origin) {
  const std::string& path = msg.path();
  const std::string& from = msg.ctx().source_module();
  if (!events::validate_event_path(path) || path.rfind("/events/", 0) != 0)
    return answer_error(origin, 400, "Invalid event path\n");
  const events::EventDecl* d = events_.find(path);
  bool own = d ? d->owner == from : path.rfind("/events/" + from + "/", 0) == 0;
  // Every module's row filter audits sys.see_all through the core's bypass event; the
  // router says which module reported it.
  bool audit = path == kAclBypassEvent;
  if (from.empty() || (!own && !audit))
    return answer_error(origin, 403, "Module '" + from + "' may not emit " + path + "\n");
  std::string body = audit ? msg.body().substr(0, 256) + "module=" + from + "\n" : msg.body();
  std::size_t n = events_.emit(path, body, msg.ctx().trace().trace_id());
  pb::Response r;
  r.set_status(200);
  pb::Header* h = r.add_headers();
  h->set_key("delivered");
  h->set_value(std::to_string(n));
  answer(origin, r);
}

void Router::on_subscription(pb::Message& msg, Origin& origin, const Caller& caller) {
  auto m = modules_.find(origin.module);
  if (origin.module.empty() || m == modules_.end() || !m->second.link)
    return answer_error(origin, 400, "Subscriptions are made by modules\n");
  auto sid = config_values::parse_number(core::header(msg, "subscription"));
  if (!sid || *sid == 0) return answer_error(origin, 400, "Need: subscription header\n");
  const std::string& path = msg.path();
  if (msg.method() == pb::UNSUB)
    return events_.unsubscribe(origin.module, *sid) ? answer_error(origin, 200, "Unsubscribed\n")
                                                    : answer_error(origin, 404, {});
  if (path == "/core/trace") {
    if (!may_administer(caller)) return answer_error(origin, 403, "Tracing is for admins\n");
    Status s = events_.trace(origin.module, *sid, core::header(msg, "filter"), core::header(msg, "debug") == "1");
    if (!s) return answer_error(origin, 400, s.error().message + "\n");
    return answer_error(origin, 200, "Tracing\n");
  }
  Status s = events_.subscribe(origin.module, *sid, path, caller, !events::is_wildcard(path));
  if (s) return answer_error(origin, 200, "Subscribed\n");
  switch (s.error().code) {
    case 403: return answer_error(origin, 403, "Subscribe denied\n");
    case 404: return answer_error(origin, 404, "No such event: " + path + "\n");
    default: return answer_error(origin, 400, s.error().message + "\n");
  }
}

void Router::on_own_subscribe(ModuleLink& link, const pb::Subscribe& sub) {
  ModuleEntry* m = find_link_owner(link);
  if (!m) return;
  Origin o;
  o.module = m->name;
  o.generation = link.generation();
  o.id = sub.id();
  Status s = sub.subscription() == 0 ? make_error(400, "subscription id must not be 0")
                                     : events_.subscribe(m->name, sub.subscription(), sub.pattern(),
                                                         events::system_caller(), false);
  if (s) return answer_error(o, 200, "Subscribed\n");
  answer_error(o, static_cast<std::uint32_t>(s.error().code), s.error().message + "\n");
}

void Router::drain_events() {
  std::vector<std::string> modules(events_.waiting().begin(), events_.waiting().end());
  for (const std::string& name : modules) {
    auto it = modules_.find(name);
    if (it == modules_.end() || !it->second.link) {
      events_.drop_subscriptions(name);
      continue;
    }
    if (!it->second.ready) continue;
    ModuleLink* link = it->second.link.get();
    events_.drain(
        name, [link] { return link->backlog() < kEventBacklogLimit; },
        [this, link](const pb::Envelope& env) {
          link->deliver(env);
          mark_dirty(link);
        });
  }
}

}  // namespace portal::router

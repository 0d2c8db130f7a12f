// SIGHUP: re-read the configuration and apply the difference. Modules added are started,
// removed ones stopped and forgotten, changed ones restarted; the others are not touched.
// A configuration that does not load is reported and the running one kept.
#include <algorithm>

#include <boost/asio/post.hpp>

#include "common/log.h"
#include "supervisor/supervisor.h"

namespace portal::supervisor {

namespace {

constexpr std::string_view kTopic = "portald";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "-" : out;
}

}  // namespace

void Supervisor::reload() {
  if (shutting_down_) return;
  const CoreSettings& core = settings_.core;
  log::info(kTopic,
            "SIGHUP: reloading " + (core.config_text.empty() ? core.config_file : "the embedded configuration"));
  auto fresh = reload_settings(core, roots_);
  if (!fresh) {
    log::error(kTopic, "reload failed, keeping the running configuration: " + fresh.error().message);
    return;
  }
  sd(notifier_.reloading());
  for (const auto& w : fresh->warnings) log::warn(kTopic, w);
  ConfigDiff diff = diff_modules(settings_, *fresh);
  settings_ = std::move(*fresh);
  apply_log_level();
  if (auto st = make_dirs(); !st) log::error(kTopic, "reload: " + st.error().message);
  send_configure();
  apply_diff(diff);
  log::info(kTopic, "reloaded: added " + join(diff.added) + "; removed " + join(diff.removed) + "; changed " +
                        join(diff.changed) + "; " + std::to_string(diff.unchanged.size()) + " unchanged");
  last_status_ = summary();
  if (ready_sent_) sd(notifier_.ready(last_status_));
}

void Supervisor::apply_diff(const ConfigDiff& diff) {
  for (const auto& name : diff.removed)
    if (auto* u = find_unit(name)) remove_unit(u);
  for (const auto& name : diff.changed) {
    ModuleUnit* u = find_unit(name);
    u->replace_settings(*settings_.find(name));
    u->restart();
  }
  for (const auto& name : diff.added) add_or_revive(*settings_.find(name));
  // Keep config order (a restarted router is replayed in it); removed ones last.
  auto rank = [this](const ModuleUnit& u) {
    for (std::size_t i = 0; i < settings_.modules.size(); ++i)
      if (settings_.modules[i].name == u.name() && !u.removing) return i;
    return settings_.modules.size();
  };
  std::stable_sort(units_.begin(), units_.end(), [&](const auto& a, const auto& b) { return rank(*a) < rank(*b); });
}

void Supervisor::remove_unit(ModuleUnit* unit) {
  unit->removing = true;
  unit->stop([this, unit] {
    if (!unit->removing) return;  // added back by a later SIGHUP while it was stopping
    pb::Control c;
    c.mutable_forget()->set_module(unit->name());
    send_control(c);
    log::info(kTopic, "module " + unit->name() + ": removed");
    // Not from inside the unit's own callback.
    boost::asio::post(io_, [this, unit] {
      auto it = std::find_if(units_.begin(), units_.end(), [unit](const auto& p) { return p.get() == unit; });
      if (it != units_.end() && (*it)->removing && !(*it)->alive()) units_.erase(it);
      check_ready();
    });
  });
}

void Supervisor::add_or_revive(const ModuleSettings& m) {
  if (ModuleUnit* u = find_unit(m.name)) {
    u->removing = false;
    u->replace_settings(m);
    u->restart();
    return;
  }
  units_.push_back(std::make_unique<ModuleUnit>(*this, m));
  units_.back()->start();
}

}  // namespace portal::supervisor

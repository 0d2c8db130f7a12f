// Which modules run and where each setting of theirs comes from (COMPAT.md 1.10):
// portal.conf `[modules] load =` lines, then the files `<data_dir>/modules/core/mod_<n>.conf`
// and `<data_dir>/modules/mod_<n>.conf` (file presence loads a module unless `enabled` says
// otherwise). A module's settings merge, later winning: portal.conf `[<n>]`, portal.conf
// `[mod_<n>]`, modules/core/mod_<n>.conf, modules/mod_<n>.conf, and last the values set at
// runtime (`/core/config/set`) that the router's store keeps in settings/mod_<n>.conf.
// A settings file never makes a module run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/ini.h"
#include "portal/result.h"

namespace portal::supervisor {

struct MergedSection {
  std::string name;
  std::map<std::string, config::IniEntry> entries;  // key -> winning entry (file and line kept)

  const config::IniEntry* get(std::string_view key) const;
};

struct ModuleFile {
  std::string name;
  config::Ini ini;  // entries of its own [mod_<name>] section only
};

struct ModuleSources {
  std::vector<MergedSection> modules;  // in start order
  std::vector<ModuleFile> files;       // every per-module file read, in merge order
  std::vector<ModuleFile> runtime;     // settings/mod_<n>.conf, values unescaped
};

Result<ModuleSources> collect_module_sources(const config::Ini& main, const std::string& data_dir,
                                             std::vector<std::string>& warnings);

// Module names become file names and paths: letters, digits, '_' and '-'.
bool valid_module_name(std::string_view name);

}  // namespace portal::supervisor

#include "supervisor/module_sources.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "common/value_escape.h"

namespace portal::supervisor {

namespace fs = std::filesystem;
using config::Ini;
using config::IniEntry;

namespace {

// Names that are sections of portal.conf itself, never a module's fallback section.
bool reserved_section(std::string_view name) { return name == "core" || name == "modules" || name == "nodes"; }

// Sections "[<kind>:<name>]" of portal.conf that belong to a module: the node module's peers.
// In a module's own file every such section is that module's.
constexpr std::pair<std::string_view, std::string_view> kOwnedSections[] = {{"peer", "node"}};

bool named_section(std::string_view section) {
  auto colon = section.find(':');
  return colon != std::string_view::npos && colon > 0 && colon + 1 < section.size();
}

bool owned_by(std::string_view section, std::string_view module) {
  if (!named_section(section)) return false;
  std::string_view kind = section.substr(0, section.find(':'));
  for (auto [k, m] : kOwnedSections)
    if (k == kind && m == module) return true;
  return false;
}

// "[peer:factory] host = x" reaches the module as the setting "peer:factory.host".
void merge_named_sections(MergedSection& m, const Ini& ini, bool own_file) {
  for (const auto& e : ini.entries()) {
    if (own_file ? !named_section(e.section) : !owned_by(e.section, m.name)) continue;
    IniEntry named = e;
    named.key = e.section + "." + e.key;
    m.entries[named.key] = std::move(named);
  }
}

std::vector<fs::path> module_files_in(const std::string& dir, std::vector<std::string>& warnings) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string file = it->path().filename().string();
    if (file.size() > 9 && file.starts_with("mod_") && file.ends_with(".conf") && it->is_regular_file(ec))
      out.push_back(it->path());
  }
  if (ec) warnings.push_back(dir + ": " + ec.message());
  std::sort(out.begin(), out.end());  // readdir order is arbitrary; start order must not be
  return out;
}

Result<std::vector<ModuleFile>> read_module_files(const std::string& dir, std::vector<std::string>& warnings) {
  std::vector<ModuleFile> out;
  for (const auto& path : module_files_in(dir, warnings)) {
    std::string file = path.filename().string();
    std::string name = file.substr(4, file.size() - 9);
    if (!valid_module_name(name)) {
      warnings.push_back(path.string() + ": ignored (not a valid module name)");
      continue;
    }
    const std::string section = "mod_" + name;
    auto ini = config::load_ini_file(path.string(), section);
    if (!ini) return ini.error();
    ModuleFile mf{name, {}};
    for (const auto& e : ini->entries()) {
      if (e.section == section || named_section(e.section))
        mf.ini.add(e);
      else
        warnings.push_back(e.file + ":" + std::to_string(e.line) + ": [" + e.section + "] ignored (a module file holds [" +
                           section + "] and sections named [<kind>:<name>])");
    }
    out.push_back(std::move(mf));
  }
  return out;
}

// The router's store writes settings/mod_<n>.conf with escaped values (common/value_escape.h).
std::vector<ModuleFile> read_runtime_files(const std::string& dir, std::vector<std::string>& warnings) {
  std::vector<ModuleFile> out;
  for (const auto& path : module_files_in(dir, warnings)) {
    std::string file = path.filename().string();
    std::string name = file.substr(4, file.size() - 9);
    if (!valid_module_name(name)) continue;
    const std::string section = "mod_" + name;
    auto ini = config::load_ini_file(path.string(), section);
    if (!ini) {
      warnings.push_back(ini.error().message + " (runtime settings ignored)");
      continue;
    }
    ModuleFile mf{name, {}};
    for (auto e : ini->entries()) {
      if (e.section != section) continue;
      auto value = config::unescape_value(e.value);
      if (!value) {
        warnings.push_back(e.file + ":" + std::to_string(e.line) + ": " + value.error().message);
        continue;
      }
      e.value = std::move(*value);
      mf.ini.add(e);
    }
    out.push_back(std::move(mf));
  }
  return out;
}

void merge_section(MergedSection& m, const Ini& ini, const std::string& section) {
  for (const auto& e : ini.entries())
    if (e.section == section) m.entries[e.key] = e;
}

MergedSection merge_module(const std::string& name, const Ini& main, const std::vector<ModuleFile>& files) {
  MergedSection m{name, {}};
  if (!reserved_section(name)) merge_section(m, main, name);
  merge_section(m, main, "mod_" + name);
  merge_named_sections(m, main, false);
  for (const auto& f : files)
    if (f.name == name) {
      merge_section(m, f.ini, "mod_" + name);
      merge_named_sections(m, f.ini, true);
    }
  return m;
}

// COMPAT.md 1.10: "true|1|yes" enables; anything else disables; absent means enabled.
bool enabled(const MergedSection& m) {
  const IniEntry* e = m.get("enabled");
  return !e || e->value == "true" || e->value == "1" || e->value == "yes";
}

}  // namespace

const IniEntry* MergedSection::get(std::string_view key) const {
  auto it = entries.find(std::string(key));
  return it == entries.end() ? nullptr : &it->second;
}

bool valid_module_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

Result<ModuleSources> collect_module_sources(const Ini& main, const std::string& data_dir,
                                             std::vector<std::string>& warnings) {
  ModuleSources out;
  std::vector<std::string> explicit_names;
  for (const auto& e : main.entries()) {
    if (e.section != "modules" || e.key != "load") continue;
    if (!valid_module_name(e.value))
      return make_error(400, e.file + ":" + std::to_string(e.line) + ": [modules] load: invalid module name '" +
                                 e.value + "' (letters, digits, '_', '-')");
    if (std::find(explicit_names.begin(), explicit_names.end(), e.value) == explicit_names.end())
      explicit_names.push_back(e.value);
  }
  for (const char* sub : {"/modules/core", "/modules"}) {
    auto files = read_module_files(data_dir + sub, warnings);
    if (!files) return files.error();
    for (auto& f : *files) out.files.push_back(std::move(f));
  }
  out.runtime = read_runtime_files(data_dir + "/settings", warnings);
  std::vector<std::string> seen;
  auto add = [&](const std::string& name, bool from_file) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) return;
    seen.push_back(name);
    MergedSection m = merge_module(name, main, out.files);
    for (const auto& f : out.runtime)
      if (f.name == name) merge_section(m, f.ini, "mod_" + name);
    if (!from_file || enabled(m)) out.modules.push_back(std::move(m));
  };
  for (const auto& name : explicit_names) add(name, false);
  for (const auto& f : out.files) add(f.name, true);
  return out;
}

}  // namespace portal::supervisor

// INI files as COMPAT.md 1.10: `[section]`, `key = value`, `#`/`;` full-line comments.
// Keys before any section belong to section "". Repeated keys are all kept in order
// (`[modules] load = a` / `load = b`); get() returns the last.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/result.h"

namespace portal::config {

struct IniEntry {
  std::string section;
  std::string key;
  std::string value;
  std::string file;
  int line = 0;
};

class Ini {
 public:
  std::optional<std::string> get(std::string_view section, std::string_view key) const;
  std::string get_or(std::string_view section, std::string_view key, std::string_view fallback) const;
  std::vector<std::string> get_all(std::string_view section, std::string_view key) const;
  // Last value of each key of a section.
  std::map<std::string, std::string> section(std::string_view section) const;
  bool has_section(std::string_view section) const;
  std::vector<std::string> sections() const;  // in order of first appearance
  const std::vector<IniEntry>& entries() const { return entries_; }
  void add(IniEntry e);
  void add_section(std::string name, std::string file, int line);
  // Everything as "section.key" -> value (last wins), the router's view (COMPAT.md 1.10).
  std::map<std::string, std::string> flatten() const;

 private:
  std::vector<IniEntry> entries_;
  std::vector<std::string> sections_;
};

// Errors name the file and line: "portal.conf:12: expected 'key = value'".
Result<Ini> parse_ini(std::string_view text, std::string_view file_name);
Result<Ini> load_ini_file(const std::string& path);
// Like parse_ini, but entries before any [section] go to `default_section` (mod_<name>.conf).
Result<Ini> load_ini_file(const std::string& path, std::string_view default_section);

bool parse_bool(std::string_view text, bool& out);  // true|false|yes|no|on|off|1|0

}  // namespace portal::config

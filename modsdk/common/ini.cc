#include "common/ini.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace portal::config {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '[' || c == ']' || c == '=') return false;
  }
  return true;
}

Error at(std::string_view file, int line, const std::string& what) {
  return make_error(400, std::string(file) + ":" + std::to_string(line) + ": " + what);
}

constexpr std::size_t kMaxLine = 64 * 1024;

Result<Ini> parse(std::string_view text, std::string_view file, std::string_view default_section) {
  Ini ini;
  std::string section(default_section);
  int lineno = 0;
  while (!text.empty()) {
    ++lineno;
    std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (raw.size() > kMaxLine) return at(file, lineno, "line longer than 64 KiB");
    if (raw.find('\0') != std::string_view::npos) return at(file, lineno, "NUL byte in line");
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') return at(file, lineno, "unterminated section header");
      std::string_view name = trim(line.substr(1, line.size() - 2));
      if (!valid_name(name)) return at(file, lineno, "invalid section name");
      section = std::string(name);
      ini.add_section(section, std::string(file), lineno);
      continue;
    }
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return at(file, lineno, "expected 'key = value' or '[section]'");
    std::string_view key = trim(line.substr(0, eq));
    std::string_view value = trim(line.substr(eq + 1));
    if (!valid_name(key)) return at(file, lineno, "invalid key");
    ini.add(IniEntry{section, std::string(key), std::string(value), std::string(file), lineno});
  }
  return ini;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(404, path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(500, path + ": read error");
  return ss.str();
}

}  // namespace

void Ini::add(IniEntry e) {
  add_section(e.section, e.file, e.line);
  entries_.push_back(std::move(e));
}

void Ini::add_section(std::string name, std::string, int) {
  for (const auto& s : sections_)
    if (s == name) return;
  sections_.push_back(std::move(name));
}

std::optional<std::string> Ini::get(std::string_view section, std::string_view key) const {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
    if (it->section == section && it->key == key) return it->value;
  return std::nullopt;
}

std::string Ini::get_or(std::string_view section, std::string_view key, std::string_view fallback) const {
  auto v = get(section, key);
  return v ? *v : std::string(fallback);
}

std::vector<std::string> Ini::get_all(std::string_view section, std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& e : entries_)
    if (e.section == section && e.key == key) out.push_back(e.value);
  return out;
}

std::map<std::string, std::string> Ini::section(std::string_view section) const {
  std::map<std::string, std::string> out;
  for (const auto& e : entries_)
    if (e.section == section) out[e.key] = e.value;
  return out;
}

bool Ini::has_section(std::string_view section) const {
  for (const auto& s : sections_)
    if (s == section) return true;
  return false;
}

std::vector<std::string> Ini::sections() const { return sections_; }

std::map<std::string, std::string> Ini::flatten() const {
  std::map<std::string, std::string> out;
  for (const auto& e : entries_) out[e.section + "." + e.key] = e.value;
  return out;
}

Result<Ini> parse_ini(std::string_view text, std::string_view file_name) { return parse(text, file_name, ""); }

Result<Ini> load_ini_file(const std::string& path) { return load_ini_file(path, ""); }

Result<Ini> load_ini_file(const std::string& path, std::string_view default_section) {
  auto text = read_file(path);
  if (!text) return text.error();
  return parse(*text, path, default_section);
}

bool parse_bool(std::string_view text, bool& out) {
  static constexpr std::string_view yes[] = {"true", "yes", "on", "1"};
  static constexpr std::string_view no[] = {"false", "no", "off", "0"};
  for (auto y : yes)
    if (text == y) return out = true, true;
  for (auto n : no)
    if (text == n) return out = false, true;
  return false;
}

}  // namespace portal::config

#include "router/store/legacy_users.h"

#include <algorithm>

#include "router/store/atomic_file.h"
#include "router/store/names.h"

namespace portal::store {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits per the rule in the header: [user, password, labels, api_key] (missing = "").
std::vector<std::string_view> split_fields(std::string_view line) {
  std::size_t colons = std::count(line.begin(), line.end(), ':');
  std::vector<std::string_view> f;
  if (colons < 3) {
    std::size_t start = 0;
    for (;;) {
      std::size_t c = line.find(':', start);
      f.push_back(line.substr(start, c - start));
      if (c == std::string_view::npos) break;
      start = c + 1;
    }
  } else {
    std::size_t first = line.find(':');
    std::size_t last = line.rfind(':');
    std::size_t second_last = line.rfind(':', last - 1);
    f = {line.substr(0, first), line.substr(first + 1, second_last - first - 1),
         line.substr(second_last + 1, last - second_last - 1), line.substr(last + 1)};
  }
  f.resize(4);
  return f;
}

Result<LegacyUser> parse_line(std::string_view line, const KeyGenerator& generate_key) {
  if (line.find(':') == std::string_view::npos) return make_error(400, "expected user:password:labels:api_key");
  auto f = split_fields(line);
  LegacyUser u;
  u.name = std::string(f[0]);
  if (auto ok = validate_name(u.name, "user name"); !ok) return ok.error();
  u.password = std::string(f[1]);
  std::string_view labels = f[2];
  while (!labels.empty()) {
    std::size_t comma = labels.find(',');
    std::string label(trim(labels.substr(0, comma)));
    labels = comma == std::string_view::npos ? std::string_view{} : labels.substr(comma + 1);
    if (label.empty()) continue;
    if (auto ok = validate_name(label, "label"); !ok) return ok.error();
    u.labels.push_back(std::move(label));
  }
  std::string_view key = trim(f[3]);
  if (key == "auto") {
    u.api_key = generate_key ? generate_key() : std::string();
    if (u.api_key.empty()) return make_error(500, "could not generate an api key");
  } else {
    for (char c : key)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return make_error(400, "invalid api key");
    u.api_key = std::string(key);
  }
  return u;
}

}  // namespace

LoadReport<LegacyUser> parse_legacy_users(std::string_view text, std::string_view file_name,
                                          const KeyGenerator& generate_key) {
  LoadReport<LegacyUser> report;
  int lineno = 0;
  while (!text.empty()) {
    ++lineno;
    std::size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    auto where = std::string(file_name) + ":" + std::to_string(lineno) + ": ";
    if (line.find('\0') != std::string_view::npos) {
      report.errors.push_back(where + "NUL byte in line");
      continue;
    }
    auto user = parse_line(line, generate_key);
    if (!user) {
      report.errors.push_back(where + user.error().message);
      continue;
    }
    bool dup = std::any_of(report.items.begin(), report.items.end(),
                           [&](const LegacyUser& u) { return u.name == user->name; });
    if (dup) {
      report.errors.push_back(where + "duplicate user '" + user->name + "' ignored");
      continue;
    }
    user->line = lineno;
    report.items.push_back(std::move(*user));
  }
  return report;
}

Result<LoadReport<LegacyUser>> load_legacy_users_file(const std::string& path, const KeyGenerator& generate_key) {
  auto text = read_whole_file(path);
  if (!text) return text.error();
  return parse_legacy_users(*text, path, generate_key);
}

}  // namespace portal::store

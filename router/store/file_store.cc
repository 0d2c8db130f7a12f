#include "router/store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/ini.h"
#include "router/store/atomic_file.h"
#include "router/store/names.h"
#include "common/value_escape.h"

namespace portal::store {

using config::escape_value;
using config::unescape_value;

namespace {

constexpr std::string_view kHeader = "# Portal auto-generated config\n";
// The INI parser refuses longer lines; never write a file we could not read back.
constexpr std::size_t kMaxLine = 64 * 1024;

struct Field {
  std::string key;
  std::string value;  // unescaped
};

std::string module_section(const std::string& module) { return "mod_" + module; }

// Parses a flat store file (no sections) into unescaped fields, in file order.
Result<std::vector<Field>> read_fields(const std::string& path) {
  auto text = read_whole_file(path);
  if (!text) return text.error();
  auto ini = config::parse_ini(*text, path);
  if (!ini) return make_error(422, ini.error().message);
  std::vector<Field> out;
  for (const auto& e : ini->entries()) {
    if (!e.section.empty()) continue;  // store files have no sections; hand-added ones are ignored
    auto value = unescape_value(e.value);
    if (!value) return make_error(422, path + ":" + std::to_string(e.line) + ": " + value.error().message);
    out.push_back({e.key, std::move(*value)});
  }
  return out;
}

Result<std::string> render_line(const std::string& key, std::string_view value) {
  std::string line = key + " = " + escape_value(value) + "\n";
  if (line.size() > kMaxLine) return make_error(400, "value of '" + key + "' too long");
  return line;
}

Status write_fields(const std::string& path, const std::vector<Field>& fields) {
  std::string text(kHeader);
  for (const auto& f : fields) {
    auto line = render_line(f.key, f.value);
    if (!line) return line.error();
    text += *line;
  }
  return write_file_atomic(path, text);
}

std::string last_value(const std::vector<Field>& fields, std::string_view key) {
  std::string out;
  for (const auto& f : fields)
    if (f.key == key) out = f.value;
  return out;
}

Result<std::vector<std::string>> split_groups(const std::string& csv) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= csv.size()) {
    std::size_t comma = std::min(csv.find(',', start), csv.size());
    std::string item = csv.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) {
      if (auto ok = validate_name(item, "group name in groups"); !ok) return ok.error();
      out.push_back(std::move(item));
    }
    start = comma + 1;
  }
  return out;
}

// Names of `<dir>/<name>.conf` files with a valid name, sorted; bad names go to `bad`.
std::vector<std::string> conf_names(const std::string& dir, std::vector<std::string>* bad) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".conf") != 0) continue;
    name.resize(name.size() - 5);
    if (validate_name(name))
      out.push_back(std::move(name));
    else if (bad && name.front() != '.')
      bad->push_back(dir + "/" + e->d_name + ": ignored: file name is not a valid name");
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status remove_file(const std::string& dir, const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return make_error(500, path + ": unlink: " + std::strerror(errno));
  // Make the removal durable like a write; a failure here is not worth failing the delete.
  if (int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return {};
}

template <class T, class Load>
LoadReport<T> load_all(const std::string& dir, Load load) {
  LoadReport<T> report;
  for (const auto& name : conf_names(dir, &report.errors)) {
    auto item = load(name);
    if (item)
      report.items.push_back(std::move(*item));
    else
      report.errors.push_back(item.error().message);
  }
  return report;
}

}  // namespace

Result<FileStore> FileStore::open(std::string data_dir) {
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  if (data_dir.empty()) return make_error(400, "file store: empty data directory");
  if (::access(data_dir.c_str(), F_OK) != 0) {
    if (auto ok = ensure_private_dir(data_dir); !ok) return ok.error();
  }
  FileStore store(data_dir);
  for (const char* sub : {"users", "groups", "settings"}) {
    std::string dir = data_dir + "/" + sub;
    if (auto ok = ensure_private_dir(dir); !ok) return ok.error();
    remove_stale_temporaries(dir);
  }
  return store;
}

std::string FileStore::user_path(const std::string& name) const { return data_dir_ + "/users/" + name + ".conf"; }
std::string FileStore::group_path(const std::string& name) const { return data_dir_ + "/groups/" + name + ".conf"; }
std::string FileStore::module_path(const std::string& module) const {
  return data_dir_ + "/settings/" + module_section(module) + ".conf";
}

LoadReport<UserRecord> FileStore::load_users() {
  return load_all<UserRecord>(data_dir_ + "/users", [this](const std::string& n) { return load_user(n); });
}

LoadReport<GroupRecord> FileStore::load_groups() {
  return load_all<GroupRecord>(data_dir_ + "/groups", [this](const std::string& n) { return load_group(n); });
}

Result<std::vector<std::string>> FileStore::list_users() { return conf_names(data_dir_ + "/users", nullptr); }

Result<UserRecord> FileStore::load_user(const std::string& name) {
  if (auto ok = validate_name(name, "user name"); !ok) return ok.error();
  std::string path = user_path(name);
  auto fields = read_fields(path);
  if (!fields) return fields.error();
  UserRecord user{name, last_value(*fields, "password"), last_value(*fields, "api_key"), {}};
  auto groups = split_groups(last_value(*fields, "groups"));
  if (!groups) return make_error(422, path + ": " + groups.error().message);
  user.groups = std::move(*groups);
  return user;
}

Status FileStore::save_user(const UserRecord& user) {
  if (auto ok = validate_name(user.name, "user name"); !ok) return ok;
  std::string csv;
  for (const auto& g : user.groups) {
    if (auto ok = validate_name(g, "group name"); !ok) return ok;
    csv += (csv.empty() ? "" : ",") + g;
  }
  std::vector<Field> fields{{"password", user.password_hash}, {"api_key", user.api_key}, {"groups", csv}};
  // Keep keys a newer version (or an administrator) added; a garbage old file is replaced.
  if (auto old = read_fields(user_path(user.name)); old) {
    for (auto& f : *old)
      if (f.key != "password" && f.key != "api_key" && f.key != "groups") fields.push_back(std::move(f));
  }
  return write_fields(user_path(user.name), fields);
}

Status FileStore::delete_user(const std::string& name) {
  if (auto ok = validate_name(name, "user name"); !ok) return ok;
  return remove_file(data_dir_ + "/users", user_path(name));
}

Result<std::vector<std::string>> FileStore::list_groups() { return conf_names(data_dir_ + "/groups", nullptr); }

Result<GroupRecord> FileStore::load_group(const std::string& name) {
  if (auto ok = validate_name(name, "group name"); !ok) return ok.error();
  auto fields = read_fields(group_path(name));
  if (!fields) return fields.error();
  return GroupRecord{name, last_value(*fields, "description"), last_value(*fields, "created_by")};
}

Status FileStore::save_group(const GroupRecord& group) {
  if (auto ok = validate_name(group.name, "group name"); !ok) return ok;
  return write_fields(group_path(group.name),
                      {{"description", group.description}, {"created_by", group.created_by}});
}

Status FileStore::delete_group(const std::string& name) {
  if (auto ok = validate_name(name, "group name"); !ok) return ok;
  return remove_file(data_dir_ + "/groups", group_path(name));
}

namespace {

// A module file as the INI parser sees it; entries before any [section] belong to
// [mod_<m>]. Values stay in their on-disk (escaped) form so a rewrite keeps them verbatim.
Result<config::Ini> read_module_file(const std::string& path, const std::string& section) {
  if (::access(path.c_str(), F_OK) != 0) return config::Ini{};
  auto ini = config::load_ini_file(path, section);
  if (!ini) return make_error(422, ini.error().message);
  return ini;
}

Result<std::vector<ConfigEntry>> module_entries(const std::string& path, const std::string& module) {
  auto ini = read_module_file(path, module_section(module));
  if (!ini) return ini.error();
  std::vector<ConfigEntry> out;
  for (const auto& [key, raw] : ini->section(module_section(module))) {
    auto value = unescape_value(raw);
    if (!value) return make_error(422, path + ": key '" + key + "': " + value.error().message);
    out.push_back({module, key, std::move(*value)});
  }
  return out;
}

}  // namespace

Result<std::string> FileStore::get_config(const std::string& module, const std::string& key) {
  auto entries = list_config(module);
  if (!entries) return entries.error();
  for (const auto& e : *entries)
    if (e.key == key) return e.value;
  return make_error(404, "no config key " + module_section(module) + "." + key);
}

Status FileStore::set_config(const ConfigEntry& entry) {
  if (auto ok = validate_name(entry.module, "module name"); !ok) return ok;
  if (auto ok = validate_config_key(entry.key); !ok) return ok;
  auto line = render_line(entry.key, entry.value);
  if (!line) return line.error();
  std::string path = module_path(entry.module), section = module_section(entry.module);
  auto ini = read_module_file(path, section);
  if (!ini) return ini.error();
  std::string escaped = escape_value(entry.value);
  std::vector<config::IniEntry> entries;
  bool placed = false;
  for (const auto& e : ini->entries()) {
    if (e.section == section && e.key == entry.key) {
      if (placed) continue;  // one line per key after a rewrite
      placed = true;
      entries.push_back({e.section, e.key, escaped, "", 0});
    } else {
      entries.push_back(e);
    }
  }
  std::vector<std::string> sections = ini->sections();
  if (!placed) entries.push_back({section, entry.key, escaped, "", 0});
  if (std::find(sections.begin(), sections.end(), section) == sections.end()) sections.push_back(section);
  // Comments of a hand-written file are not kept (README.md).
  std::string text(kHeader);
  for (const auto& s : sections) {
    text += "[" + s + "]\n";
    for (const auto& e : entries)
      if (e.section == s) text += e.key + " = " + e.value + "\n";
  }
  return write_file_atomic(path, text);
}

Result<std::vector<ConfigEntry>> FileStore::list_config(const std::string& module) {
  if (!module.empty()) {
    if (auto ok = validate_name(module, "module name"); !ok) return ok.error();
    return module_entries(module_path(module), module);
  }
  std::vector<ConfigEntry> all;
  for (const auto& file : conf_names(data_dir_ + "/settings", nullptr)) {
    if (file.rfind("mod_", 0) != 0 || file.size() == 4) continue;
    auto entries = module_entries(data_dir_ + "/settings/" + file + ".conf", file.substr(4));
    if (!entries) return entries.error();
    all.insert(all.end(), entries->begin(), entries->end());
  }
  return all;
}

std::string FileStore::status() {
  auto users = list_users();
  auto groups = list_groups();
  return "File Storage\nDirectory: " + data_dir_ + "\nUsers: " + std::to_string(users ? users->size() : 0) +
         "\nGroups: " + std::to_string(groups ? groups->size() : 0) + "\n";
}

}  // namespace portal::store

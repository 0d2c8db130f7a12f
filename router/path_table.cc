#include "router/path_table.h"

#include <algorithm>

namespace portal::router {

bool PathTable::add(PathEntry entry) {
  auto it = map_.find(entry.path);
  if (it != map_.end()) {
    if (it->second.owner != entry.owner) return false;
    it->second = std::move(entry);
    return true;
  }
  std::string key = entry.path;
  map_.emplace(std::move(key), std::move(entry));
  return true;
}

bool PathTable::remove(std::string_view path, std::string_view owner) {
  auto it = map_.find(path);
  if (it == map_.end() || it->second.owner != owner) return false;
  map_.erase(it);
  return true;
}

std::size_t PathTable::remove_owner(std::string_view owner) {
  return std::erase_if(map_, [&](const auto& kv) { return kv.second.owner == owner; });
}

const PathEntry* PathTable::exact(std::string_view path) const {
  auto it = map_.find(path);
  return it == map_.end() ? nullptr : &it->second;
}

const PathEntry* PathTable::route(std::string_view path) const {
  if (const PathEntry* e = exact(path)) return e;
  // /a/b/c -> /a/b/* -> /a/* -> /*
  std::string probe;
  probe.reserve(path.size() + 2);
  std::size_t end = path.size();
  while (end > 0) {
    std::size_t slash = path.rfind('/', end - 1);
    if (slash == std::string_view::npos) break;
    probe.assign(path.substr(0, slash + 1));
    probe += '*';
    if (const PathEntry* e = exact(probe)) return e;
    end = slash;
  }
  return nullptr;
}

std::vector<const PathEntry*> PathTable::sorted() const {
  std::vector<const PathEntry*> out;
  out.reserve(map_.size());
  for (const auto& [_, e] : map_) out.push_back(&e);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->path < b->path; });
  return out;
}

}  // namespace portal::router

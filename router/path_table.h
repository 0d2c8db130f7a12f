// The path table (DESIGN.md 2): exact match through an FNV-1a hash, then wildcard fallback
// by shortening the path: /a/b/c -> /a/b/* -> /a/* -> /*  (never /a/b/c/*).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/util.h"

namespace portal::router {

struct PathEntry {
  std::string path;
  std::string owner;  // module name, or "core"
  std::vector<std::string> labels;
  std::string description;
  std::uint32_t access = 3;
};

struct Fnv1aHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return static_cast<std::size_t>(fnv1a(s)); }
};

class PathTable {
 public:
  // False when the path is already owned by someone else (first owner wins).
  bool add(PathEntry entry);
  // Removes `path` if `owner` owns it.
  bool remove(std::string_view path, std::string_view owner);
  // Removes every path of `owner`; returns how many.
  std::size_t remove_owner(std::string_view owner);
  const PathEntry* exact(std::string_view path) const;
  // Exact, then wildcard fallback.
  const PathEntry* route(std::string_view path) const;
  std::size_t size() const { return map_.size(); }
  // Sorted by path.
  std::vector<const PathEntry*> sorted() const;

 private:
  std::unordered_map<std::string, PathEntry, Fnv1aHash, std::equal_to<>> map_;
};

}  // namespace portal::router

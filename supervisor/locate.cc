#include "supervisor/locate.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "portal_build_config.h"

namespace portal::supervisor {

namespace {

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

bool is_under(const std::string& path, const std::string& dir) {
  if (dir.empty() || path.size() <= dir.size()) return false;
  return path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

std::string join_tried(const std::vector<std::string>& tried) {
  std::string out;
  for (const auto& t : tried) out += (out.empty() ? "" : ", ") + t;
  return out;
}

Result<std::string> find_program(const char* env_var, const std::string& build_path,
                                 const std::string& installed_path) {
  if (const char* env = std::getenv(env_var); env && *env) {
    if (::access(env, X_OK) == 0) return std::string(env);
    return make_error(404, std::string(env_var) + "=" + env + ": not an executable file");
  }
  std::vector<std::string> tried;
  for (const auto& p : {build_path, installed_path}) {
    if (p.empty()) continue;
    if (is_regular_file(p) && ::access(p.c_str(), X_OK) == 0) return p;
    tried.push_back(p);
  }
  return make_error(404, "not found (tried " + join_tried(tried) + ")");
}

}  // namespace

bool is_regular_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

SearchRoots default_search_roots() {
  SearchRoots roots;
  if (is_under(self_exe(), PORTAL_BUILD_ROOT)) roots.build_root = PORTAL_BUILD_ROOT;
  roots.module_dir = PORTAL_MODULE_DIR;
  roots.libexec_dir = PORTAL_LIBEXEC_DIR;
  return roots;
}

std::vector<std::string> library_candidates(const std::string& name, const std::string& modules_dir,
                                            const SearchRoots& roots) {
  const std::string file = "mod_" + name + ".so";
  std::vector<std::string> out;
  if (!modules_dir.empty()) {
    out.push_back(modules_dir + "/" + name + "/" + file);
    out.push_back(modules_dir + "/" + file);
  }
  if (!roots.build_root.empty())
    out.push_back(roots.build_root + "/modules/" + name + "/" + file);
  else if (!roots.module_dir.empty())
    out.push_back(roots.module_dir + "/" + file);
  return out;
}

Result<std::string> find_library(const std::string& name, const std::string& explicit_path,
                                 const std::string& modules_dir, const SearchRoots& roots) {
  if (!explicit_path.empty()) {
    if (is_regular_file(explicit_path)) return explicit_path;
    return make_error(404, "module '" + name + "': library not found (tried " + explicit_path + ")");
  }
  auto tried = library_candidates(name, modules_dir, roots);
  for (const auto& p : tried)
    if (is_regular_file(p)) return p;
  return make_error(404, "module '" + name + "': library not found (tried " + join_tried(tried) + ")");
}

Result<Programs> find_programs(const SearchRoots& roots) {
  const std::string build = roots.build_root;
  auto router = find_program("PORTAL_ROUTER_BIN", build.empty() ? "" : build + "/router/portal-router",
                             roots.libexec_dir + "/portal-router");
  if (!router) return make_error(404, "portal-router: " + router.error().message);
  auto worker = find_program("PORTAL_WORKER_BIN", build.empty() ? "" : build + "/modsdk/worker/portal-worker",
                             roots.libexec_dir + "/portal-worker");
  if (!worker) return make_error(404, "portal-worker: " + worker.error().message);
  return Programs{*router, *worker};
}

}  // namespace portal::supervisor

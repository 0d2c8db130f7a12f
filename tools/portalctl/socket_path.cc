#include "socket_path.h"

#include <filesystem>

#include "common/ini.h"

namespace portal::tools {

namespace {

namespace fs = std::filesystem;

std::string resolve_against(const fs::path& dir, const std::string& path) {
  fs::path p(path);
  return p.is_absolute() ? path : (dir / p).lexically_normal().string();
}

// `socket` of a per-module file, when the file exists and sets it.
std::optional<std::string> module_file_socket(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  Result<config::Ini> ini = config::load_ini_file(file.string(), "mod_ctl");
  if (!ini) return std::nullopt;
  return ini->get("mod_ctl", "socket");
}

}  // namespace

Result<std::string> socket_from_config(const std::string& config_path) {
  Result<config::Ini> ini = config::load_ini_file(config_path);
  if (!ini) return make_error(kExitUsage, ini.error().message);
  const fs::path dir = fs::path(config_path).parent_path();
  std::optional<std::string> socket = ini->get("mod_ctl", "socket");
  if (std::optional<std::string> data_dir = ini->get("core", "data_dir"); data_dir && !data_dir->empty()) {
    const fs::path modules = fs::path(resolve_against(dir, *data_dir)) / "modules";
    for (const fs::path& f : {modules / "core" / "mod_ctl.conf", modules / "mod_ctl.conf"})
      if (std::optional<std::string> s = module_file_socket(f)) socket = s;
  }
  if (!socket || socket->empty()) socket = ini->get("core", "ctl_socket");
  if (!socket || socket->empty())
    return make_error(kExitUsage, config_path + " names no control socket ([mod_ctl] socket or [core] ctl_socket)");
  return resolve_against(dir, *socket);
}

Result<std::string> resolve_socket(const Options& options, const EnvLookup& env) {
  if (!options.socket_path.empty()) return options.socket_path;
  if (!options.config_path.empty()) return socket_from_config(options.config_path);
  if (std::optional<std::string> s = env(kCtlSocketEnv); s && !s->empty()) return *s;
  return std::string(kDefaultCtlSocket);
}

}  // namespace portal::tools

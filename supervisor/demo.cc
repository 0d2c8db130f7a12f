#include "supervisor/demo.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace portal::supervisor {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kDirToken = "@DIR@";

bool has_control_char(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

// mkdir -p, the folders it creates with `mode` (the umask may only narrow it).
Status make_dir_tree(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (dir.has_relative_path() && dir.has_parent_path())
    if (auto st = make_dir_tree(dir.parent_path(), mode); !st) return st;
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return make_error(500, "--demo: cannot create " + dir.string() + ": " + std::strerror(errno));
  if (!fs::is_directory(dir, ec)) return make_error(400, "--demo: " + dir.string() + " is not a directory");
  return {};
}

// The ctl socket portalctl should use: the ctl module's own `socket` when it has one.
std::string ctl_socket_of(const Settings& s) {
  if (const ModuleSettings* ctl = s.find("ctl")) {
    auto it = ctl->values.find("socket");
    if (it != ctl->values.end() && !it->second.empty()) return it->second;
  }
  return s.core.ctl_socket;
}

// n characters drawn uniformly from `alphabet` with getrandom (rejection sampling).
Result<std::string> random_text(std::size_t n, std::string_view alphabet) {
  std::string out;
  const unsigned limit = 256 - 256 % alphabet.size();
  while (out.size() < n) {
    unsigned char buf[64];
    ssize_t got = ::getrandom(buf, sizeof buf, 0);
    if (got <= 0) return make_error(500, std::string("getrandom: ") + std::strerror(errno));
    for (ssize_t i = 0; i < got && out.size() < n; ++i)
      if (buf[i] < limit) out.push_back(alphabet[buf[i] % alphabet.size()]);
  }
  return out;
}

}  // namespace

Result<std::string> ensure_demo_root(const std::string& data_dir) {
  fs::path users = fs::path(data_dir) / "users";
  fs::path file = users / "root.conf";
  std::error_code ec;
  if (fs::exists(file, ec)) return "portald: root's credentials are in " + file.string() + "\n";
  if (auto st = make_dir_tree(users, 0700); !st) return st.error();
  auto password = random_text(16, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789");
  auto key = random_text(64, "0123456789abcdef");
  if (!password) return password.error();
  if (!key) return key.error();
  std::string text = "# Portal auto-generated config\npassword = " + *password + "\napi_key = " + *key +
                     "\ngroups = root,admin\n";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(500, "--demo: cannot create " + file.string() + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(500, "--demo: cannot write " + file.string());
  return "portald: created user root (shown once; kept in " + file.string() + ")\n" + "portald:   password: " +
         *password + "\nportald:   API key:  " + *key + "\n";
}

std::string expand_demo_config(std::string_view text, std::string_view dir) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0;;) {
    std::size_t hit = text.find(kDirToken, pos);
    out.append(text.substr(pos, hit - pos));
    if (hit == std::string_view::npos) return out;
    out.append(dir);
    pos = hit + kDirToken.size();
  }
}

Result<std::string> prepare_demo_dir(const std::string& dir, bool create) {
  if (dir.empty()) return make_error(400, "--demo needs a folder");
  if (has_control_char(dir)) return make_error(400, "--demo: the folder's path must not contain control characters");
  fs::path p = fs::absolute(dir).lexically_normal();
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();  // "/a/b/" -> "/a/b"
  if (create) {
    if (auto st = make_dir_tree(p, 0700); !st) return st.error();
  }
  return p.string();
}

Result<Settings> load_demo_settings(std::string_view text, const std::string& abs_dir, const SearchRoots& roots) {
  std::string conf = expand_demo_config(text, abs_dir);
  return load_settings_text(conf, (fs::path(abs_dir) / kDemoConfName).string(), roots);
}

std::string demo_banner(const Settings& s, const SearchRoots& roots) {
  std::string portalctl = roots.build_root.empty() ? "portalctl" : roots.build_root + "/tools/portalctl";
  std::string socket = ctl_socket_of(s);
  return "portald: demo instance '" + s.core.instance + "' in " + s.core.config_dir +
         " (stop it with Ctrl-C)\n"
         "portald: ctl socket: " +
         socket +
         "\n"
         "portald: try: " +
         portalctl + " -s " + socket + " get /core/status\n"
         "portald: as root: " +
         portalctl + " -s " + socket + " --api-key KEY module list\n";
}

}  // namespace portal::supervisor

#include "instance.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "certs.h"
#include "common/ini.h"
#include "locate.h"
#include "portal_build_config.h"
#include "ports.h"

namespace portal::instance {

namespace fs = std::filesystem;

namespace {

Result<std::string> random_text(std::size_t n, std::string_view alphabet) {
  std::string out;
  const unsigned limit = 256 - 256 % alphabet.size();
  while (out.size() < n) {
    unsigned char buf[64];
    if (RAND_bytes(buf, sizeof buf) != 1) return make_error(500, "the random generator failed");
    for (unsigned char b : buf)
      if (b < limit && out.size() < n) out.push_back(alphabet[b % alphabet.size()]);
  }
  return out;
}

Status make_dir(const std::string& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(500, "cannot create " + dir + ": " + ec.message());
  if (::chmod(dir.c_str(), mode) != 0) return make_error(500, "cannot chmod " + dir + ": " + std::strerror(errno));
  return {};
}

// Creates `path` with `mode` (never following a link, never replacing a file).
Status write_new(const std::string& path, const std::string& text, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return make_error(500, "cannot create " + path + ": " + std::strerror(errno));
  ::fchmod(fd, mode);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(500, "cannot write " + path);
  return {};
}

bool module_installed(const std::string& name) { return fs::exists(tools::find_module(name)); }

std::string unit_text(const Layout& l) {
  std::string portal = tools::from_build_tree() ? std::string(PORTAL_BUILD_ROOT) + "/tools/portal"
                                                : std::string(PORTAL_BIN_DIR) + "/portal";
  std::string prefix = l.prefix.empty() ? "" : " --prefix " + l.prefix;
  return "# Written by portal -C; see config/portal@.service for the template.\n"
         "[Unit]\nDescription=Portal instance " + l.name + "\nAfter=network.target\n\n"
         "[Service]\nType=notify\nNotifyAccess=main\nExecStart=" + portal + prefix + " -n " + l.name + " -f\n"
         "ExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\nRestartSec=5s\n"
         "NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\n"
         "ProtectKernelTunables=yes\nProtectKernelModules=yes\nProtectControlGroups=yes\n"
         "RestrictSUIDSGID=yes\nLockPersonality=yes\nMemoryDenyWriteExecute=no\n"
         "ReadWritePaths=" + l.etc_dir() + " " + l.lib_dir() + " " + l.log_dir() + " " + l.run_dir() + "\n\n"
         "[Install]\nWantedBy=multi-user.target\n";
}

struct ModuleFile {
  std::string name;
  bool enabled;
  std::string body;
};

std::vector<ModuleFile> module_files(const Layout& l, const Created& c, const std::string& federation_key) {
  const std::string certs = l.certs_dir();
  return {
      {"ctl", true, "socket = " + l.ctl_socket() + "\n"},
      {"cli", true,
       "socket = " + l.cli_socket() + "\nmode = 0660\n# Local UNIX users that are Portal users without a login:\n"
       "peer_users = 0:root\n"},
      {"web", true,
       "bind = 127.0.0.1\nport = " + std::to_string(c.http_port) + "\ntls_port = " + std::to_string(c.https_port) +
           "\ncert_file = " + certs + "/server.crt\nkey_file = " + certs + "/server.key\n"},
      {"node", false,
       "name = " + l.name + "\nlisten_port = " + std::to_string(c.node_port) + "\n# Every node of a network holds "
       "the same key (at least 32 bytes); keep it secret.\nfederation_key = " + federation_key +
           "\ntls = true\ntls_cert = " + certs + "/server.crt\ntls_key = " + certs +
           "/server.key\n# Verify the other nodes' certificates against a CA:\n# tls_ca = /etc/portal/ca.crt\n"
           "# Requests from peers run here as the user whose API key they present (peer_keys on their side):\n"
           "assert_identity = true\n\n"
           "# Peers (here or in portal.conf):\n# [peer:factory]\n# host = 10.0.0.2\n# port = 9090\n"
           "# auto_connect = true\n# key = <API key of a user on factory: our identity there>\n"
           "#\n# A peer reached through a hub (no host, or when the direct link is down):\n# [peer:plant]\n"
           "# hub = factory\n"},
      {"config_sqlite", true, "storage_provider = sqlite\ndatabase = " + l.lib_dir() + "/data/portal.db\n"},
      {"config_psql", false,
       "storage_provider = psql\nhost = /var/run/postgresql\nport = 5432\nuser = portal\ndatabase = portal_conf\n"},
      {"hello", true, ""},
      {"myapp", true, ""},
  };
}

Status write_config(const Layout& l) {
  std::string text = "# Portal instance '" + l.name + "' (written by portal -C)\n[core]\ninstance = " + l.name +
                     "\ndata_dir = " + l.etc_dir() + "\napp_dir = " + l.lib_dir() + "\nlog_dir = " + l.log_dir() +
                     "\nrun_dir = " + l.run_dir() + "\nctl_socket = " + l.ctl_socket() +
                     "\nlog_level = info\n\n# Modules start from the files in modules/core/ (enabled = true).\n"
                     "[modules]\n";
  return write_new(l.config(), text, 0600);
}

}  // namespace

Result<Created> create(const Layout& l) {
  if (Status s = validate_name(l.name); !s) return s.error();
  std::error_code ec;
  if (fs::exists(l.etc_dir(), ec)) return make_error(409, "instance '" + l.name + "' exists (" + l.etc_dir() + ")");
  Created c;
  auto taken = ports_in_use(l.etc_root());
  for (auto [base, out] : {std::pair{std::uint16_t{8080}, &c.http_port}, {std::uint16_t{8443}, &c.https_port},
                           {std::uint16_t{9090}, &c.node_port}}) {
    auto p = pick_port(base, taken);
    if (!p) return p.error();
    *out = *p;
    taken.insert(*p);
  }
  for (auto [dir, mode] : {std::pair{l.etc_dir(), 0700}, {l.etc_dir() + "/users", 0700},
                           {l.etc_dir() + "/groups", 0700}, {l.modules_dir(), 0700}, {l.certs_dir(), 0700},
                           {l.lib_dir() + "/data", 0750}, {l.log_dir(), 0750}, {l.run_dir(), 0750}})
    if (Status s = make_dir(dir, static_cast<mode_t>(mode)); !s) return s.error();
  if (Status s = write_config(l); !s) return s.error();
  auto password = random_text(16, "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789");
  auto key = random_text(64, "0123456789abcdef");
  auto fed = random_text(64, "0123456789abcdef");
  if (!password || !key || !fed) return make_error(500, "the random generator failed");
  c.root_password = *password;
  c.root_key = *key;
  for (const ModuleFile& m : module_files(l, c, *fed)) {
    bool on = m.enabled && module_installed(m.name);
    std::string text = "[mod_" + m.name + "]\nenabled = " + (on ? "true" : "false") + "\n";
    if (m.enabled && !on) text += "# not installed when this instance was created\n";
    text += m.body;
    if (Status s = write_new(l.modules_dir() + "/mod_" + m.name + ".conf", text, 0600); !s) return s.error();
    if (on) c.modules.push_back(m.name);
  }
  // Plain text here on purpose: the router replaces it with an scrypt hash when it first
  // loads the file (0600, in a 0700 folder until then).
  std::string root = "# Portal auto-generated config\npassword = " + c.root_password + "\napi_key = " + c.root_key +
                     "\ngroups = root,admin\n";
  if (Status s = write_new(l.etc_dir() + "/users/root.conf", root, 0600); !s) return s.error();
  std::string admin = "# Portal auto-generated config\ndescription = Administrators\ncreated_by = portal --create\n";
  if (Status s = write_new(l.etc_dir() + "/groups/admin.conf", admin, 0600); !s) return s.error();
  auto cert = make_self_signed("portal-" + l.name);
  if (!cert) return cert.error();
  if (Status s = write_new(l.certs_dir() + "/server.crt", cert->cert_pem, 0644); !s) return s.error();
  if (Status s = write_new(l.certs_dir() + "/server.key", cert->key_pem, 0600); !s) return s.error();
  if (Status s = make_dir(fs::path(l.unit_file()).parent_path().string(), 0755); !s) return s.error();
  fs::remove(l.unit_file(), ec);
  if (Status s = write_new(l.unit_file(), unit_text(l), 0644); !s) return s.error();
  return c;
}

int running_pid(const Layout& l) {
  std::ifstream in(l.pid_file());
  int pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  if (ec || exe.filename() != "portald") return 0;
  return pid;
}

Status remove(const Layout& l) {
  if (Status s = validate_name(l.name); !s) return s;
  std::error_code ec;
  if (!fs::exists(l.etc_dir(), ec)) return make_error(404, "no instance '" + l.name + "' in " + l.etc_root());
  if (int pid = running_pid(l)) {
    ::kill(pid, SIGTERM);
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (::kill(pid, 0) == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (::kill(pid, 0) == 0) return make_error(500, "instance '" + l.name + "' (pid " + std::to_string(pid) +
                                                        ") did not stop; not deleted");
  }
  fs::remove(l.unit_file(), ec);
  fs::remove_all(l.run_dir(), ec);
  fs::remove_all(l.etc_dir(), ec);
  if (ec) return make_error(500, "cannot remove " + l.etc_dir() + ": " + ec.message());
  return {};
}

std::vector<Row> list(const std::string& prefix) {
  std::vector<Row> rows;
  std::error_code ec;
  for (fs::directory_iterator it(prefix + "/etc/portal", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!validate_name(name) || !fs::exists(it->path() / "portal.conf")) continue;
    Layout l{prefix, name};
    Row r{name, "stopped", 0, "-", "-", "-", 0};
    if ((r.pid = running_pid(l))) r.state = "running";
    else if (fs::exists(l.pid_file())) r.state = "dead";
    for (fs::directory_iterator m(l.modules_dir(), ec), mend; !ec && m != mend; m.increment(ec)) {
      auto ini = config::load_ini_file(m->path().string());
      if (!ini) continue;
      std::string file = m->path().filename().string();
      std::string section = file.substr(0, file.size() - 5);
      auto get = [&](const char* key) { return ini->get(section, key).value_or(""); };
      std::string enabled = get("enabled");
      bool on = enabled.empty() || enabled == "true" || enabled == "1" || enabled == "yes";
      if (on) ++r.modules;
      if (section == "mod_web" && on) {
        r.http = get("port").empty() ? "-" : get("port");
        r.https = get("tls_port").empty() || get("tls_port") == "0" ? "-" : get("tls_port");
      }
      if (section == "mod_node" && on && !get("listen_port").empty()) r.node = get("listen_port");
    }
    rows.push_back(r);
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.name < b.name; });
  return rows;
}

std::string render(const std::vector<Row>& rows) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %-8s %-8s %-6s %-6s %-6s %s\n", "INSTANCE", "STATUS", "PID", "HTTP", "HTTPS",
                "NODE", "MODULES");
  out += line;
  for (const Row& r : rows) {
    std::snprintf(line, sizeof line, "%-16s %-8s %-8s %-6s %-6s %-6s %d\n", r.name.c_str(), r.state.c_str(),
                  r.pid ? std::to_string(r.pid).c_str() : "-", r.http.c_str(), r.https.c_str(), r.node.c_str(),
                  r.modules);
    out += line;
  }
  if (rows.empty()) out += "(no instances)\n";
  return out;
}

std::string summary(const Layout& l, const Created& c) {
  std::string mods;
  for (const auto& m : c.modules) mods += (mods.empty() ? "" : ", ") + m;
  std::string prefix = l.prefix.empty() ? "" : " --prefix " + l.prefix;
  return "Instance '" + l.name + "' created\n"
         "  Config:   " + l.config() + "\n"
         "  Modules:  " + mods + "\n"
         "  HTTP:     http://127.0.0.1:" + std::to_string(c.http_port) + "/api/\n"
         "  HTTPS:    https://127.0.0.1:" + std::to_string(c.https_port) + "/api/ (self-signed certificate)\n"
         "  Node:     port " + std::to_string(c.node_port) + " (federation; disabled until configured)\n"
         "  CLI:      " + l.cli_socket() + "\n"
         "  Unit:     " + l.unit_file() + "\n\n"
         "  root password: " + c.root_password + "\n"
         "  root API key:  " + c.root_key + "\n"
         "  (shown once; keep them safe)\n\n"
         "Start:  portal" + prefix + " -n " + l.name + "        (or systemctl start portal-" + l.name + ")\n"
         "Shell:  portal" + prefix + " -n " + l.name + " -r\n";
}

}  // namespace portal::instance

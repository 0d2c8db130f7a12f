#include "instance.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace portal::itest {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string build_root() {
  const char* r = std::getenv("PORTAL_BUILD_ROOT");
  return r ? r : ".";
}

std::string module_library(const std::string& name) {
  return build_root() + "/modules/" + name + "/mod_" + name + ".so";
}

Credentials root_credentials() { return key_credentials(kRootKey); }

Credentials key_credentials(std::string key) {
  Credentials c;
  c.api_key = std::move(key);
  return c;
}

Instance::Instance(std::vector<ModuleConf> modules) : modules_(std::move(modules)) {
  char tmpl[] = "/tmp/portal-itest-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  config_ = dir_ + "/portal.conf";
  socket_ = dir_ + "/run/ctl.sock";
  log_path_ = dir_ + "/portald.log";
  write_config();
  fs::create_directories(dir_ + "/data/users");
  fs::permissions(dir_ + "/data", fs::perms::owner_all, fs::perm_options::replace);
  std::ofstream root(dir_ + "/data/users/root.conf");
  root << "password = " << kRootPassword << "\napi_key = " << kRootKey << "\ngroups = root,admin\n";
}

void Instance::write_config() {
  std::ofstream c(config_, std::ios::trunc);
  c << "[core]\ninstance = itest\ndata_dir = " << dir_ << "/data\nlog_dir = " << dir_ << "/log\nrun_dir = " << dir_
    << "/run\nlog_level = info\n" << extra_ << "\n[modules]\nload = ctl\n";
  for (const auto& m : modules_) c << "load = " << m.name << "\n";
  c << "\n[mod_ctl]\nsocket = " << socket_ << "\n";
  for (const auto& m : modules_) {
    c << "\n[mod_" << m.name << "]\n";
    for (const auto& [k, v] : m.settings) c << k << " = " << v << "\n";
  }
  c << "\n" << sections_;
}

void Instance::set_extra_sections(std::string text) {
  sections_ = std::move(text);
  write_config();
}

void Instance::rewrite_config(std::vector<ModuleConf> modules) {
  modules_ = std::move(modules);
  write_config();
}

void Instance::set_core_extra(std::string lines) {
  extra_ = std::move(lines);
  write_config();
}

Instance::~Instance() {
  client_.reset();
  if (pid_ > 0) {
    if (!stop(10s)) kill_tree();
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool Instance::start(std::chrono::milliseconds ready_timeout) {
  std::string portald = build_root() + "/supervisor/portald";
  pid_ = ::fork();
  if (pid_ == 0) {
    FILE* f = std::fopen(log_path_.c_str(), "a");
    if (f) ::dup2(fileno(f), STDERR_FILENO);
    ::execl(portald.c_str(), portald.c_str(), "-c", config_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!client_) {
      auto c = tools::CtlClient::connect(socket_);
      if (c) client_ = std::move(*c);
    }
    if (client_) {
      auto mods = modules();
      bool all = mods.is_array() && !mods.empty();
      for (const auto& m : modules_) {
        nlohmann::json j = module(m.name);
        std::string st = j.is_object() ? j.value("state", "") : "";
        if (!(j.is_object() && (j.value("ready", false) || st == "failed"))) all = false;
      }
      if (all) return true;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::optional<int> Instance::stop(std::chrono::milliseconds timeout) {
  client_.reset();
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

void Instance::kill_tree() {
  client_.reset();
  if (pid_ <= 0) return;
  std::vector<pid_t> all{pid_};
  for (std::size_t i = 0; i < all.size(); ++i)
    for (pid_t c : children_of(all[i])) all.push_back(c);
  for (pid_t p : all) ::kill(p, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  // Workers die with their parent (PDEATHSIG); give the kernel a moment to reap them.
  for (int i = 0; i < 100; ++i) {
    bool any = false;
    for (pid_t p : all)
      if (process_alive(p)) any = true;
    if (!any) break;
    std::this_thread::sleep_for(10ms);
  }
}

tools::CtlClient& Instance::client() {
  if (!client_ || !client_->connected()) reconnect();
  return *client_;
}

void Instance::reconnect() {
  client_.reset();
  for (int i = 0; i < 500 && !client_; ++i) {
    auto c = tools::CtlClient::connect(socket_);
    if (c) client_ = std::move(*c);
    else std::this_thread::sleep_for(10ms);
  }
  if (!client_) throw std::runtime_error("cannot connect to " + socket_);
}

Result<Response> Instance::request(Method m, const std::string& path, Headers headers, std::string body,
                                   std::chrono::milliseconds timeout, Credentials cred) {
  return client().request(m, path, std::move(headers), std::move(body), std::move(cred), timeout);
}

Result<Response> Instance::admin(Method m, const std::string& path, Headers headers, std::string body) {
  return request(m, path, std::move(headers), std::move(body), std::chrono::seconds(20), root_credentials());
}

Result<Response> Instance::as(const Credentials& cred, Method m, const std::string& path, Headers headers,
                              std::string body) {
  return request(m, path, std::move(headers), std::move(body), std::chrono::seconds(20), cred);
}

Result<Response> Instance::get(const std::string& path, Headers headers, std::string body) {
  return request(Method::get, path, std::move(headers), std::move(body));
}

Result<Response> Instance::call(const std::string& path, Headers headers, std::string body) {
  return request(Method::call, path, std::move(headers), std::move(body));
}

nlohmann::json Instance::modules() {
  auto r = request(Method::get, "/core/modules", {{"format", "json"}}, {}, 5s);
  if (!r || r->status != 200) return nullptr;
  return nlohmann::json::parse(r->body, nullptr, false);
}

nlohmann::json Instance::module(const std::string& name) {
  nlohmann::json all = modules();
  if (!all.is_array()) return nullptr;
  for (const auto& m : all)
    if (m.value("name", "") == name) return m;
  return nullptr;
}

int Instance::module_pid(const std::string& name) {
  nlohmann::json m = module(name);
  return m.is_object() ? m.value("pid", -1) : -1;
}

bool Instance::wait_module(const std::string& name, const std::function<bool(const nlohmann::json&)>& pred,
                           std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    nlohmann::json m = module(name);
    if (m.is_object() && pred(m)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

bool Instance::wait_ready(const std::string& name, std::chrono::milliseconds timeout) {
  return wait_module(name, [](const nlohmann::json& m) { return m.value("ready", false); }, timeout);
}

pid_t Instance::router_pid() const {
  for (pid_t c : children_of(pid_))
    if (process_name(c) == "portal-router") return c;
  return -1;
}

std::string Instance::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::pair<int, std::string> run_command(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, {}};
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name + "/children");
    pid_t c;
    while (in >> c) out.push_back(c);
  }
  ::closedir(d);
  return out;
}

bool process_alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  std::size_t rp = line.rfind(')');
  return rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] != 'Z';
}

std::string process_name(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

}  // namespace portal::itest

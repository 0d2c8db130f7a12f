#include "router/remote_provider.h"

#include <condition_variable>
#include <mutex>
#include <optional>

#include "router/core_util.h"

namespace portal::router {

namespace {

std::string header(const pb::Response& r, std::string_view key) {
  for (const auto& h : r.headers())
    if (h.key() == key) return h.value();
  return {};
}

}  // namespace

RemoteProvider::RemoteProvider(std::string name, std::string module, std::function<void(std::function<void()>)> post,
                               ProviderTransport send, std::shared_ptr<std::atomic<bool>> stopping,
                               std::chrono::milliseconds timeout)
    : name_(std::move(name)),
      module_(std::move(module)),
      post_(std::move(post)),
      send_(std::move(send)),
      stopping_(std::move(stopping)),
      timeout_(timeout) {}

std::optional<pb::Response> RemoteProvider::round_trip(pb::Message msg) {
  if (stopping_->load()) return std::nullopt;
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    pb::Response resp;
  };
  auto wait = std::make_shared<Wait>();
  post_([send = send_, msg = std::move(msg), wait]() mutable {
    send(std::move(msg), [wait](pb::Response& r) {
      std::lock_guard lock(wait->mu);
      wait->resp = r;
      wait->done = true;
      wait->cv.notify_all();
    });
  });
  // Waits in slices so that a router going down releases the store thread at once.
  auto until = std::chrono::steady_clock::now() + timeout_;
  std::unique_lock lock(wait->mu);
  while (!wait->done) {
    if (stopping_->load() || std::chrono::steady_clock::now() >= until) return std::nullopt;
    wait->cv.wait_for(lock, std::chrono::milliseconds(50));
  }
  return std::move(wait->resp);
}

Result<pb::Response> RemoteProvider::call(pb::Method method, const std::string& what, Headers headers) {
  pb::Message msg;
  msg.set_path("/" + module_ + "/storage/" + what);
  msg.set_method(method);
  for (auto& [k, v] : headers) {
    pb::Header* h = msg.add_headers();
    h->set_key(std::move(k));
    h->set_value(std::move(v));
  }
  auto resp = round_trip(std::move(msg));
  if (!resp) return make_error(503, "storage provider '" + name_ + "' did not answer in time");
  if (resp->status() < 200 || resp->status() >= 300) {
    std::string body = resp->body();
    while (!body.empty() && body.back() == '\n') body.pop_back();
    if (body.empty()) body = "status " + std::to_string(resp->status());
    return make_error(static_cast<int>(resp->status()), "storage provider '" + name_ + "': " + body);
  }
  return std::move(*resp);
}

Result<std::vector<std::string>> RemoteProvider::names(const std::string& what) {
  auto r = call(pb::GET, what, {});
  if (!r) return r.error();
  std::vector<std::string> out;
  for (const auto& h : r->headers())
    if (h.key() == "name") out.push_back(h.value());
  return out;
}

Result<std::vector<std::string>> RemoteProvider::list_users() { return names("users"); }

Result<store::UserRecord> RemoteProvider::load_user(const std::string& name) {
  auto r = call(pb::GET, "user", {{"name", name}});
  if (!r) return r.error();
  return store::UserRecord{name, header(*r, "password_hash"), header(*r, "api_key"),
                           core::split_list(header(*r, "groups"))};
}

Status RemoteProvider::save_user(const store::UserRecord& u) {
  auto r = call(pb::SET, "user",
                {{"name", u.name}, {"password_hash", u.password_hash}, {"api_key", u.api_key},
                 {"groups", core::join(u.groups, ",")}});
  return r ? Status{} : Status{r.error()};
}

Status RemoteProvider::delete_user(const std::string& name) {
  auto r = call(pb::CALL, "user", {{"action", "delete"}, {"name", name}});
  return r ? Status{} : Status{r.error()};
}

Result<std::vector<std::string>> RemoteProvider::list_groups() { return names("groups"); }

Result<store::GroupRecord> RemoteProvider::load_group(const std::string& name) {
  auto r = call(pb::GET, "group", {{"name", name}});
  if (!r) return r.error();
  return store::GroupRecord{name, header(*r, "description"), header(*r, "created_by")};
}

Status RemoteProvider::save_group(const store::GroupRecord& g) {
  auto r = call(pb::SET, "group", {{"name", g.name}, {"description", g.description}, {"created_by", g.created_by}});
  return r ? Status{} : Status{r.error()};
}

Status RemoteProvider::delete_group(const std::string& name) {
  auto r = call(pb::CALL, "group", {{"action", "delete"}, {"name", name}});
  return r ? Status{} : Status{r.error()};
}

Result<std::string> RemoteProvider::get_config(const std::string& module, const std::string& key) {
  auto r = call(pb::GET, "config", {{"module", module}, {"key", key}});
  if (!r) return r.error();
  return r->body();
}

Status RemoteProvider::set_config(const store::ConfigEntry& e) {
  auto r = call(pb::SET, "config", {{"module", e.module}, {"key", e.key}, {"value", e.value}});
  return r ? Status{} : Status{r.error()};
}

Result<std::vector<store::ConfigEntry>> RemoteProvider::list_config(const std::string& module) {
  auto r = call(pb::GET, "configs", {{"module", module}});
  if (!r) return r.error();
  std::vector<store::ConfigEntry> out;
  store::ConfigEntry cur;
  int have = 0;
  for (const auto& h : r->headers()) {
    if (h.key() == "module") cur.module = h.value(), have |= 1;
    else if (h.key() == "key") cur.key = h.value(), have |= 2;
    else if (h.key() == "value") cur.value = h.value(), have |= 4;
    if (have == 7) {
      out.push_back(std::move(cur));
      cur = {};
      have = 0;
    }
  }
  return out;
}

std::string RemoteProvider::status() {
  pb::Message msg;
  msg.set_path("/" + module_ + "/resources/status");
  msg.set_method(pb::GET);
  auto resp = round_trip(std::move(msg));
  if (!resp || resp->status() != 200) return "Backend: " + name_ + " (module '" + module_ + "' not answering)\n";
  return resp->body();
}

}  // namespace portal::router

// Shared helpers of the config_sqlite tests: a temporary folder, the module on the stub
// router, requests with headers, and direct SQLite access to the file.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "portal/message.h"
#include "testing/stub_router.h"

namespace portal::config_sqlite::test {

namespace fs = std::filesystem;
using portal::testing::StubRouter;

inline std::string make_temp_dir() {
  char tmpl[] = "/tmp/portal-sqlite-test-XXXXXX";
  if (!::mkdtemp(tmpl)) return {};
  return tmpl;
}

inline Response call(StubRouter& stub, Method method, const std::string& suffix, Headers headers = {}) {
  Message m = make_message(method, "/config_sqlite" + suffix);
  m.headers = std::move(headers);
  return stub.request(std::move(m));
}

// Every value of response header `key`, in order.
inline std::vector<std::string> values(const Response& r, std::string_view key) {
  std::vector<std::string> out;
  for (const Header& h : r.headers)
    if (h.key == key) out.push_back(h.value);
  return out;
}

inline std::string value(const Response& r, std::string_view key) {
  const std::string* v = r.header(key);
  return v ? *v : std::string("<missing>");
}

inline Response save_user(StubRouter& stub, const std::string& name, const std::string& hash = "h",
                          const std::string& key = "", const std::string& groups = "") {
  return call(stub, Method::set, "/storage/user",
              {{"name", name}, {"password_hash", hash}, {"api_key", key}, {"groups", groups}});
}

// A direct connection to the file, for checks the module's paths cannot make.
class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* get() { return db_; }

  bool exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) ADD_FAILURE() << sql << ": " << (err ? err : "?");
    sqlite3_free(err);
    return rc == SQLITE_OK;
  }
  // The first column of every row of `sql` (no bound values: tests only).
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const void* p = sqlite3_column_blob(s, 0);
      int n = sqlite3_column_bytes(s, 0);
      out.emplace_back(p ? static_cast<const char*>(p) : "", p ? static_cast<std::size_t>(n) : 0u);
    }
    if (rc != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(s);
    return out;
  }
  std::string scalar(const std::string& sql) {
    auto c = column(sql);
    return c.empty() ? std::string("<no row>") : c[0];
  }

 private:
  sqlite3* db_ = nullptr;
};

class ModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir();
    ASSERT_FALSE(dir_.empty());
    db_path_ = dir_ + "/portal.db";
  }
  void TearDown() override {
    if (stub_ && stub_->loaded()) {
      EXPECT_TRUE(stub_->unload());
      EXPECT_TRUE(stub_->leftovers().empty()) << "the module removes what it registered";
    }
    stub_.reset();
    fs::remove_all(dir_);
  }
  // A fresh stub router with the module loaded on db_path_ (or the error).
  Status load(const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    if (stub_ && stub_->loaded()) (void)stub_->unload();
    stub_ = std::make_unique<StubRouter>();
    stub_->set_config("database", db_path_);
    for (const auto& [k, v] : extra) stub_->set_config(k, v);
    return stub_->load_library(MOD_CONFIG_SQLITE_PATH);
  }
  void reload() {
    ASSERT_TRUE(stub_->unload());
    Status s = load();
    ASSERT_TRUE(s) << s.error().message;
  }
  void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << bytes;
  }
  StubRouter& stub() { return *stub_; }

  std::string dir_;
  std::string db_path_;
  std::unique_ptr<StubRouter> stub_;
};

}  // namespace portal::config_sqlite::test

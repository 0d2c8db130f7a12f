// Shared by the config_psql tests: the module on the stub router, pointed at a private
// server (pg_server.h), and direct libpq queries to check what really is in the database.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "testing/stub_router.h"

namespace portal::config_psql::testing {

using portal::Method;
using portal::testing::StubRouter;

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using DirectConn = std::unique_ptr<PGconn, PgConnCloser>;

inline DirectConn direct_connect(const PgServer& server, const std::string& db) {
  std::string port = std::to_string(PgServer::kPort);
  const char* keys[] = {"host", "port", "user", "dbname", nullptr};
  const char* values[] = {server.socket_dir().c_str(), port.c_str(), PgServer::kUser, db.c_str(), nullptr};
  DirectConn c(PQconnectdbParams(keys, values, 0));
  if (PQstatus(c.get()) != CONNECTION_OK) return nullptr;
  return c;
}

// The rows of a query as raw bytes (binary results), text parameters; nullopt on error.
inline std::optional<std::vector<std::vector<std::string>>> direct_query(PGconn* c, const char* sql,
                                                                         const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* res = PQexecParams(c, sql, static_cast<int>(params.size()), nullptr, values.data(), nullptr, nullptr, 1);
  std::optional<std::vector<std::vector<std::string>>> out;
  if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK) {
    out.emplace();
    for (int r = 0; r < PQntuples(res); ++r) {
      std::vector<std::string> row;
      for (int f = 0; f < PQnfields(res); ++f) row.emplace_back(PQgetvalue(res, r, f), PQgetlength(res, r, f));
      out->push_back(std::move(row));
    }
  }
  PQclear(res);
  return out;
}

// The module's settings for `server`, fast retries for tests.
inline void configure(StubRouter& stub, const PgServer& server, const std::string& database) {
  stub.set_config("host", server.socket_dir());
  stub.set_config("port", std::to_string(PgServer::kPort));
  stub.set_config("user", PgServer::kUser);
  stub.set_config("database", database);
  stub.set_config("connect_timeout_ms", "3000");
  stub.set_config("retry_initial_ms", "50");
  stub.set_config("retry_max_ms", "200");
}

// A request as the router sends it.
inline portal::Response call(StubRouter& stub, Method method, const std::string& path, portal::Headers headers = {}) {
  portal::Message m = portal::make_message(method, path);
  m.headers = std::move(headers);
  m.ctx.auth.user = "root";
  return stub.request(std::move(m));
}

inline std::vector<std::string> values_of(const portal::Response& r, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& h : r.headers)
    if (h.key == key) out.push_back(h.value);
  return out;
}

// Moves the fake clock (the module's retry timer) until `ok()` or 15 s of real time.
template <class Pred>
bool advance_until(StubRouter& stub, Pred ok) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    stub.advance(std::chrono::milliseconds(250));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ok();
}

}  // namespace portal::config_psql::testing

// config_psql attached to a real instance, against a private PostgreSQL the test starts
// itself: every write reaches the database, and a user created while PostgreSQL is stopped
// reaches it after PostgreSQL comes back, with nobody doing anything (issue 5).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <thread>

#include "../../modules/config_psql/tests/pg_server.h"
#include "instance.h"

namespace portal::itest {
namespace {

using namespace std::chrono_literals;
using config_psql::testing::PgServer;

// Rows of `users` named `name`, or -1 when the database cannot be asked.
int users_named(const PgServer& pg, const std::string& name) {
  const char* keys[] = {"host", "port", "user", "dbname", nullptr};
  std::string port = std::to_string(PgServer::kPort);
  const char* values[] = {pg.socket_dir().c_str(), port.c_str(), PgServer::kUser, "portal_conf", nullptr};
  PGconn* c = PQconnectdbParams(keys, values, 0);
  int n = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    const char* params[] = {name.c_str()};
    PGresult* r = PQexecParams(c, "SELECT count(*) FROM users WHERE username = $1", 1, nullptr, params, nullptr,
                               nullptr, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) n = std::atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(c);
  return n;
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds within) {
  auto until = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

TEST(StoragePsql, WritesReachPostgresAndAnOutageLosesNothing) {
  if (std::string why = PgServer::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  PgServer pg;
  std::string error;
  ASSERT_TRUE(pg.init(error)) << error;
  ASSERT_TRUE(pg.start(error)) << error << pg.log();
  Instance inst({{"config_psql",
                  {{"storage_provider", "psql"},
                   {"host", pg.socket_dir()},
                   {"port", std::to_string(PgServer::kPort)},
                   {"user", PgServer::kUser},
                   {"database", "portal_conf"},
                   {"retry_initial_ms", "200"},
                   {"retry_max_ms", "1000"}}}});
  ASSERT_TRUE(inst.start()) << inst.log();
  ASSERT_TRUE(eventually([&] { return inst.get("/core/storage")->body.find("  psql: active\n") != std::string::npos; },
                         20s));
  ASSERT_TRUE(eventually([&] { return users_named(pg, "root") == 1; }, 20s)) << "pushed at attach\n" << inst.log();
  auto r = inst.admin(Method::set, "/users/online", {{"password", "x"}, {"groups", "staff"}});
  ASSERT_EQ(r->status, 201);
  EXPECT_EQ(users_named(pg, "online"), 1) << "written before the answer";

  pg.stop();
  r = inst.admin(Method::set, "/users/offline", {{"password", "y"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << "the file store takes the write; the provider's copy waits";
  EXPECT_EQ(inst.get("/users/offline")->status, 200);
  r = inst.get("/core/storage/psql/resources/status");
  EXPECT_NE(r->body.find("disconnected"), std::string::npos) << r->body;

  ASSERT_TRUE(pg.start(error)) << error;
  EXPECT_TRUE(eventually([&] { return users_named(pg, "offline") == 1; }, 30s))
      << "the pending write is replayed once PostgreSQL is back\n" << inst.log();
  EXPECT_EQ(users_named(pg, "online"), 1);
}

}  // namespace
}  // namespace portal::itest

#include "pg.h"

#include <poll.h>

#include <cerrno>

namespace portal::config_psql {

namespace {

constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;

Error connection_error(PGconn* conn, std::string_view fallback) {
  std::string text = conn ? one_line(PQerrorMessage(conn)) : std::string();
  return make_error(kConnectionLost, text.empty() ? std::string(fallback) : text);
}

// Waits until the socket is ready in the direction libpq asked for, or the deadline.
bool wait_socket(PGconn* conn, PostgresPollingStatusType want, std::chrono::steady_clock::time_point deadline) {
  pollfd pfd{PQsocket(conn), static_cast<short>(want == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// SQLSTATE classes that mean the session is over: 08 (connection exception) and 57P
// (operator intervention: admin shutdown, crash shutdown, cannot connect now).
bool session_over(const PGresult* res) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  if (!state) return false;
  std::string_view s(state);
  return s.starts_with("08") || s.starts_with("57P");
}

}  // namespace

std::string one_line(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else if (c != '\t' || !out.empty()) {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

Result<ConnPtr> connect(const ConnectParams& p) {
  std::vector<const char*> keys{"host", "port", "dbname", "application_name", "client_encoding"};
  std::vector<const char*> values{p.host.c_str(), p.port.c_str(), p.dbname.c_str(), "portal-config_psql", "UTF8"};
  if (!p.user.empty()) keys.push_back("user"), values.push_back(p.user.c_str());
  if (!p.password.empty()) keys.push_back("password"), values.push_back(p.password.c_str());
  keys.push_back(nullptr);
  values.push_back(nullptr);
  // expand_dbname = 0: the database name is only ever a name, never a connection string.
  ConnPtr conn(PQconnectStartParams(keys.data(), values.data(), 0));
  if (!conn) return make_error(kConnectionLost, "libpq could not allocate a connection");
  if (PQstatus(conn.get()) == CONNECTION_BAD) return connection_error(conn.get(), "connection failed");
  // The server's notices ("relation already exists, skipping") are not for stderr.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  auto deadline = std::chrono::steady_clock::now() + p.timeout;
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;  // where libpq says polling starts
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) return connection_error(conn.get(), "connection failed");
    if (!wait_socket(conn.get(), st, deadline))
      return make_error(kConnectionLost, "connection timed out after " + std::to_string(p.timeout.count()) + " ms");
    st = PQconnectPoll(conn.get());
  }
  return conn;
}

Result<ResultPtr> exec(PGconn* conn, const char* sql, std::initializer_list<Param> params) {
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const Param& p : params) {
    types.push_back(p.type == Param::Type::text ? kTextOid : kByteaOid);
    values.push_back(p.value.data() ? p.value.data() : "");
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(1);
  }
  ResultPtr res(PQexecParams(conn, sql, static_cast<int>(types.size()), types.data(), values.data(), lengths.data(),
                             formats.data(), 1));
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  if (PQstatus(conn) == CONNECTION_BAD || session_over(res.get())) return connection_error(conn, "connection lost");
  std::string text = one_line(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn));
  return make_error(kQueryFailed, text.empty() ? "query failed" : text);
}

std::string field(const PGresult* res, int row, int col) {
  return std::string(PQgetvalue(res, row, col), static_cast<std::size_t>(PQgetlength(res, row, col)));
}

}  // namespace portal::config_psql

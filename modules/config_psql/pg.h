// Thin RAII helpers over libpq: connecting with a deadline and running parameterized
// queries whose parameters and results all travel in binary format, so values are bytes
// (bytea) that never go through any escaping or text conversion.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "portal/result.h"

namespace portal::config_psql {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Where and as whom to connect. Every value is passed to libpq as its own keyword.
struct ConnectParams {
  std::string host;
  std::string port;
  std::string user;      // empty: not passed
  std::string password;  // empty: not passed
  std::string dbname;
  std::chrono::milliseconds timeout{5000};
};

// A connection, or an error whose message says why (libpq's text on one line). The
// password never appears in it.
Result<ConnPtr> connect(const ConnectParams& params);

// One query parameter: a TEXT or a BYTEA, sent in binary format.
struct Param {
  enum class Type { text, bytea };
  std::string_view value;
  Type type = Type::bytea;
  static Param text(std::string_view v) { return {v, Type::text}; }
  static Param bytes(std::string_view v) { return {v, Type::bytea}; }
};

// Error codes of exec(): the connection is gone (or the server is shutting down) ...
inline constexpr int kConnectionLost = 503;
// ... or the statement failed on a live connection.
inline constexpr int kQueryFailed = 500;

// Runs one parameterized statement; results come back in binary format (TEXT and BYTEA
// columns are then the raw bytes). Fails with kConnectionLost or kQueryFailed.
Result<ResultPtr> exec(PGconn* conn, const char* sql, std::initializer_list<Param> params = {});

// The bytes of one field of a binary-format result.
std::string field(const PGresult* res, int row, int col);

// libpq's multi-line messages on one line, without the trailing newline.
std::string one_line(std::string_view message);

}  // namespace portal::config_psql

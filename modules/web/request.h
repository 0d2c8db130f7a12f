// What to do with one parsed HTTP request, and how a Portal response becomes an HTTP one
// (README.md "Mapping"). No I/O here: the session does the reading and writing.
#pragma once

#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "portal/message.h"
#include "settings.h"

namespace portal::web {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct Plan {
  enum class Kind {
    reply,    // answer `reply` at once
    forward,  // send `message`, answer its response
    index,    // GET /core/paths as the client, answer the rendered index
    events,   // subscribe_as(`pattern`, message.ctx.credentials), then stream
  };
  Kind kind = Kind::reply;
  Response reply;
  Message message;    // forward, index (credentials only), events (credentials only)
  std::string pattern;  // events
  bool json = false;  // answer {"status":..,"body":..}
  bool head = false;  // HEAD: headers only
};

// Maps a request (its body is moved into the message). `source` is the client's address.
Plan plan_request(const Settings& settings, HttpRequest& req, const std::string& source);

// The HTTP response for a Portal response to `path` (Content-Type by COMPAT.md 3.1 rules,
// JSON mode, CORS header, Connection). The body is moved out of `r`.
HttpResponse build_response(const Settings& settings, Response&& r, std::string_view path, bool json, bool head,
                            bool keep_alive);

// An error answer of the server itself (400, 413, 414, 431...): text/plain, then close.
HttpResponse error_response(const Settings& settings, int status, std::string body);

// Replaces `out` with the status line and header fields of `res`, byte for byte what
// Beast's serializer writes before the body. Beast's generic serializer walks a chain of
// buffer views for every response; this is one append per field.
void write_head(const HttpResponse& res, std::string& out);

}  // namespace portal::web

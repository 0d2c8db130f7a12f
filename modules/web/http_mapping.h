// The HTTP <-> Portal mapping (README.md "Mapping", COMPAT.md 3.1), as pure functions:
// no sockets, no Core, so every rule is unit-tested on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "portal/message.h"
#include "portal/result.h"

namespace portal::web {

// --- request target ----------------------------------------------------------------------

enum class TargetKind {
  api,      // /api/<path>: forwarded as <path>
  index,    // /api or /api/: the generated index
  outside,  // not under the prefix: 404
};

struct Target {
  TargetKind kind = TargetKind::outside;
  std::string path;         // decoded, without the prefix and one trailing '/'
  Headers query;            // decoded query parameters, in order
  bool has_action = false;  // a query parameter named `action`
};

// Splits and decodes a request target. A 400 error for a bad escape, a NUL, a ".." segment
// or invalid UTF-8 in the path, or a bad escape in the query.
Result<Target> parse_target(std::string_view target, std::string_view prefix);

// "%41+b" -> "A b" with plus_is_space; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
bool valid_utf8(std::string_view text);

// --- methods -----------------------------------------------------------------------------

// GET/HEAD -> get, POST -> set, PUT/DELETE -> call, any with an `action` parameter -> call;
// nullopt for the rest (405).
std::optional<Method> map_method(std::string_view http_method, bool has_action);

// --- credentials ---------------------------------------------------------------------------

struct CredentialHeaders {
  std::string_view authorization;  // "Bearer t" | "Basic b64(user:pass)"
  std::string_view x_api_key;
  std::string_view x_auth_token;
};

// Credentials as the client gave them (never resolved here). `query` loses its api_key
// parameters, so they never reach the target module. A 400 error for a malformed Basic value.
Result<Credentials> extract_credentials(const CredentialHeaders& headers, Headers& query);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// --- responses -----------------------------------------------------------------------------

// The reason phrase of an HTTP status; "Unknown" for codes without one.
std::string_view reason_phrase(int status);
// COMPAT.md 3.1 "Content-Type": by path, then by the body's first bytes.
std::string_view content_type(std::string_view path, std::string_view body);
// `Accept: application/json` or `?format=json`.
bool wants_json(std::string_view accept, const Headers& query);
// {"status":<n>,"body":"<escaped>"}, or "body_base64" when the body is not UTF-8.
std::string render_json(int status, std::string_view body);
std::string json_escape(std::string_view text);

// The auto index (COMPAT.md 3.1) from the text of /core/paths.
std::string render_index(std::string_view core_paths, std::string_view prefix);

// --- server-sent events -------------------------------------------------------------------

// `Accept` asks for text/event-stream.
bool wants_event_stream(std::string_view accept);
// The subscription pattern for an events path ("/events/myapp/*"; "/events" -> "*"); nullopt
// when `path` is not under /events.
std::optional<std::string> event_pattern(std::string_view path);

}  // namespace portal::web

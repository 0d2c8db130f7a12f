#include "http_mapping.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <vector>

namespace portal::web {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Error bad_request(std::string text) { return make_error(status::bad_request, std::move(text)); }

Result<std::string> decode_path(std::string_view raw) {
  std::optional<std::string> path = percent_decode(raw, false);
  if (!path) return bad_request("Malformed percent-encoding in the path\n");
  if (path->find('\0') != std::string::npos) return bad_request("NUL byte in the path\n");
  if (!valid_utf8(*path)) return bad_request("The path is not valid UTF-8\n");
  std::string_view rest = *path;
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == "..") return bad_request("'..' in the path\n");
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  if (path->size() > 1 && path->back() == '/') path->pop_back();
  return *path;
}

Status decode_query(std::string_view query, Target& t) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;  // COMPAT.md 3.1: pairs without '=' are dropped
    std::optional<std::string> key = percent_decode(pair.substr(0, eq), true);
    std::optional<std::string> value = percent_decode(pair.substr(eq + 1), true);
    if (!key || !value) return bad_request("Malformed percent-encoding in the query\n");
    if (key->empty()) continue;
    if (*key == "action") t.has_action = true;
    t.query.push_back({std::move(*key), std::move(*value)});
  }
  return {};
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool valid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

Result<Target> parse_target(std::string_view target, std::string_view prefix) {
  Target t;
  std::size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (Status st = decode_query(query, t); !st) return st.error();
  if (raw_path == prefix || (raw_path.size() == prefix.size() + 1 && raw_path.substr(0, prefix.size()) == prefix &&
                             raw_path.back() == '/')) {
    t.kind = TargetKind::index;
    return t;
  }
  if (raw_path.size() <= prefix.size() || raw_path.substr(0, prefix.size()) != prefix ||
      raw_path[prefix.size()] != '/') {
    t.kind = TargetKind::outside;
    return t;
  }
  Result<std::string> path = decode_path(raw_path.substr(prefix.size()));
  if (!path) return path.error();
  t.kind = TargetKind::api;
  t.path = std::move(*path);
  return t;
}

std::optional<Method> map_method(std::string_view http_method, bool has_action) {
  std::optional<Method> m;
  if (http_method == "GET" || http_method == "HEAD") m = Method::get;
  else if (http_method == "POST") m = Method::set;
  else if (http_method == "PUT" || http_method == "DELETE") m = Method::call;
  if (m && has_action) m = Method::call;
  return m;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) | std::uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 63]);
  }
  if (i < bytes.size()) {
    std::uint32_t v = std::uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= std::uint8_t(bytes[i + 1]) << 8;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const char* p = c ? std::char_traits<char>::find(kB64, 64, c) : nullptr;
    if (!p) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

Result<Credentials> extract_credentials(const CredentialHeaders& headers, Headers& query) {
  Credentials c;
  c.api_key = std::string(trim(headers.x_api_key));
  c.token = std::string(trim(headers.x_auth_token));
  for (auto it = query.begin(); it != query.end();) {
    if (it->key == "api_key") {
      if (c.api_key.empty()) c.api_key = it->value;
      it = query.erase(it);
    } else {
      ++it;
    }
  }
  std::string_view auth = trim(headers.authorization);
  if (istarts_with(auth, "Bearer ")) {
    c.token = std::string(trim(auth.substr(7)));
  } else if (istarts_with(auth, "Basic ")) {
    std::optional<std::string> pair = base64_decode(trim(auth.substr(6)));
    std::size_t colon = pair ? pair->find(':') : std::string::npos;
    if (colon == std::string::npos) return bad_request("Malformed Basic credentials\n");
    c.username = pair->substr(0, colon);
    c.password = pair->substr(colon + 1);
  }
  return c;
}

std::string_view reason_phrase(int status) {
  static const std::map<int, std::string_view> kReasons = {
      {100, "Continue"}, {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
      {301, "Moved Permanently"}, {302, "Found"}, {304, "Not Modified"}, {400, "Bad Request"},
      {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
      {408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
      {413, "Content Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"}, {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
      {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
  auto it = kReasons.find(status);
  return it == kReasons.end() ? std::string_view("Unknown") : it->second;
}

std::string_view content_type(std::string_view path, std::string_view body) {
  if (path.find("/compress") != std::string_view::npos || path.find("/decompress") != std::string_view::npos)
    return "application/octet-stream";
  if (path.find("/admin/") != std::string_view::npos || body.substr(0, 9) == "<!DOCTYPE")
    return "text/html; charset=utf-8";
  if (path.find("/json") != std::string_view::npos || body.substr(0, 1) == "{")
    return "application/json; charset=utf-8";
  return "text/plain; charset=utf-8";
}

bool wants_json(std::string_view accept, const Headers& query) {
  const std::string* format = find_header(query, "format");
  if (format && *format == "json") return true;
  while (!accept.empty()) {
    std::size_t comma = accept.find(',');
    std::string_view item = trim(accept.substr(0, comma));
    item = trim(item.substr(0, item.find(';')));
    if (iequals(item, "application/json")) return true;
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
  }
  return false;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

std::string render_json(int status, std::string_view body) {
  std::string out = "{\"status\":" + std::to_string(status);
  if (valid_utf8(body))
    out += ",\"body\":\"" + json_escape(body) + "\"}";
  else
    out += ",\"body_base64\":\"" + base64_encode(body) + "\"}";
  return out;
}

std::string render_index(std::string_view core_paths, std::string_view prefix) {
  // "  <path padded to 40> → <module>\n" per line, after a "Registered paths:" title.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> groups;
  while (!core_paths.empty()) {
    std::size_t nl = core_paths.find('\n');
    std::string_view line = core_paths.substr(0, nl);
    core_paths = nl == std::string_view::npos ? std::string_view() : core_paths.substr(nl + 1);
    std::size_t arrow = line.find("\xe2\x86\x92");
    if (line.substr(0, 3) != "  /" || arrow == std::string_view::npos) continue;
    std::string path(trim(line.substr(2, arrow - 2)));
    std::string module(trim(line.substr(arrow + 3)));
    const std::size_t second = path.find('/', 1);
    std::string group = path.substr(1, second == std::string::npos ? std::string::npos : second - 1);
    groups[group].emplace_back(std::move(path), std::move(module));
  }
  const std::string title = "Portal v" PORTAL_WEB_VERSION " REST API";
  std::string out = title + "\n" + std::string(title.size(), '=') + "\n\n";
  out += "Auth: ?api_key=KEY | Authorization: Bearer TOKEN | Basic user:pass\n\n";
  out += "Endpoints (GET " + std::string(prefix) + "<path>):\n\n";
  char buf[2200];
  for (auto& [group, entries] : groups) {
    out += "  [" + group + "]\n";
    std::sort(entries.begin(), entries.end());
    for (const auto& [path, module] : entries) {
      std::snprintf(buf, sizeof buf, "    GET %s%-40s  [%s]\n", std::string(prefix).c_str(), path.c_str(),
                    module.c_str());
      out += buf;
    }
  }
  out += "\nAll paths accept GET. Use POST to create, PUT to call actions.\n";
  return out;
}

bool wants_event_stream(std::string_view accept) {
  return accept.find("text/event-stream") != std::string_view::npos;
}

std::optional<std::string> event_pattern(std::string_view path) {
  if (path == "/events") return std::string("*");
  if (path.substr(0, 8) != "/events/" || path.size() == 8) return std::nullopt;
  return std::string(path);
}

}  // namespace portal::web

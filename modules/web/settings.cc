#include "settings.h"

#include <arpa/inet.h>

#include <limits>

#include "portal/config_values.h"

namespace portal::web {

namespace {

using config_values::bad_value;
using config_values::parse_number;

// Numbers here take a k/M/G suffix (sizes); ports and times are plain numbers anyway.
template <class T>
Status read_number(const ConfigLookup& config, std::string_view key, std::uint64_t min, std::uint64_t max,
                   T& out) {
  return config_values::read_number(config, key, min, max, out, config_values::Units::size);
}

Status read_millis(const ConfigLookup& config, std::string_view key, std::chrono::milliseconds& out) {
  std::uint64_t ms = static_cast<std::uint64_t>(out.count());
  if (Status st = read_number(config, key, 1, 24ull * 3600 * 1000, ms); !st) return st;
  out = std::chrono::milliseconds(ms);
  return {};
}

Status read_bind(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("bind");
  if (!text) return {};
  unsigned char buf[16];
  if (::inet_pton(AF_INET, text->c_str(), buf) != 1 && ::inet_pton(AF_INET6, text->c_str(), buf) != 1)
    return bad_value("bind", *text, "an IPv4 or IPv6 address such as 127.0.0.1 or ::1");
  s.bind = *text;
  return {};
}

Status read_tls_port(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("tls_port");
  if (!text) return {};
  if (*text == "auto") {
    s.tls_port = 0;
    return {};
  }
  std::optional<std::uint64_t> v = parse_number(*text);
  if (!v || *v > 65535) return bad_value("tls_port", *text, "a port from 0 (off) to 65535, or auto");
  if (*v == 0)
    s.tls_port.reset();
  else
    s.tls_port = static_cast<std::uint16_t>(*v);
  return {};
}

Status read_prefix(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("api_prefix");
  if (!text) return {};
  std::string p = *text;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.empty() || p[0] != '/' || p == "/" || p.find_first_of(std::string("?#% \0", 5)) != std::string::npos)
    return bad_value("api_prefix", *text, "a path such as /api");
  s.api_prefix = p;
  return {};
}

Status read_cors(const ConfigLookup& config, Settings& s) {
  std::optional<std::string> text = config("cors_origin");
  if (!text) return {};
  for (char c : *text)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return bad_value("cors_origin", *text, "* or one origin such as https://example.com");
  s.cors_origin = *text;
  return {};
}

Status read_tls_files(const ConfigLookup& config, Settings& s) {
  if (auto c = config("cert_file")) s.cert_file = *c;
  if (auto k = config("key_file")) s.key_file = *k;
  if (!s.tls_on()) return {};
  if (s.cert_file.empty() || s.key_file.empty())
    return make_error(kFatalConfig, "tls_port is set but cert_file or key_file is missing in [mod_web]");
  return {};
}

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) { return config_values::parse_size(text); }

Result<Settings> parse_settings(const ConfigLookup& config) {
  Settings s;
  for (Status st : {read_bind(config, s), read_number(config, "port", 0, 65535, s.port), read_tls_port(config, s),
                    read_tls_files(config, s), read_prefix(config, s), read_cors(config, s),
                    read_number(config, "max_body", 0, 1ull << 32, s.max_body),
                    read_number(config, "max_header", 256, 1u << 20, s.max_header),
                    read_number(config, "max_uri", 16, 1u << 20, s.max_uri),
                    read_millis(config, "header_timeout_ms", s.header_timeout),
                    read_millis(config, "idle_timeout_ms", s.idle_timeout),
                    read_number(config, "max_connections", 1, 1u << 20, s.max_connections)})
    if (!st) return st.error();
  if (s.tls_port && *s.tls_port != 0 && *s.tls_port == s.port)
    return make_error(kFatalConfig, "port and tls_port are both " + std::to_string(s.port));
  return s;
}

}  // namespace portal::web

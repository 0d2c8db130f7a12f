#include "router/events/trace.h"

#include <cstdio>

namespace portal::events {
namespace {

void append_hex_escape(std::string& out, unsigned char c) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

// Length of the valid UTF-8 sequence at s[i], 0 when invalid (overlong, surrogate, > U+10FFFF).
std::size_t utf8_len(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto b = static_cast<unsigned char>(s[i]);
  std::size_t n;
  if (b >= 0xc2 && b <= 0xdf) { n = 2; cp = b & 0x1f; }
  else if (b >= 0xe0 && b <= 0xef) { n = 3; cp = b & 0x0f; }
  else if (b >= 0xf0 && b <= 0xf4) { n = 4; cp = b & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return n;
}

std::string or_dash(std::string_view s) { return s.empty() ? std::string("-") : safe_text(s); }

bool filter_matches(const TraceSub& sub, std::string_view path) {
  return sub.filter.empty() || sub.filter == "/" || path.find(sub.filter) != std::string_view::npos;
}

}  // namespace

std::string_view method_tag(TraceMethod m) {
  switch (m) {
    case TraceMethod::Get: return "GET";
    case TraceMethod::Set: return "SET";
    case TraceMethod::Call: return "CALL";
    case TraceMethod::Event: return "EVT";
    case TraceMethod::Sub: return "SUB";
    case TraceMethod::Unsub: return "UNSUB";
    case TraceMethod::Meta: return "META";
  }
  return "?";
}

std::string safe_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x80) {
      append_hex_escape(out, c);  // C0 controls and DEL
      ++i;
    } else {
      std::uint32_t cp = 0;
      std::size_t n = utf8_len(s, i, cp);
      if (n == 0 || (cp >= 0x80 && cp <= 0x9f)) {  // invalid, or a C1 control
        std::size_t bad = n == 0 ? 1 : n;
        for (std::size_t k = 0; k < bad; ++k) append_hex_escape(out, static_cast<unsigned char>(s[i + k]));
        i += bad;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
    }
  }
  return out;
}

std::string hex_dump(std::string_view body) {
  std::string out;
  std::size_t shown = body.size() < kTraceDumpBytes ? body.size() : kTraceDumpBytes;
  for (std::size_t off = 0; off < shown; off += 16) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %04zx  ", off);
    std::string hex, ascii;
    for (std::size_t k = 0; k < 16; ++k) {
      if (off + k < shown) {
        auto c = static_cast<unsigned char>(body[off + k]);
        char h[4];
        std::snprintf(h, sizeof h, "%02x ", c);
        hex += h;
        ascii += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
      } else {
        hex += "   ";
      }
    }
    out += buf + hex + " " + ascii + "\n";
  }
  if (body.size() > shown) out += "  ... +" + std::to_string(body.size() - shown) + " bytes\n";
  return out;
}

std::string format_request(const TraceRequest& r, bool debug) {
  std::string out = "→ #" + std::to_string(r.trace_id) + " [" + std::string(method_tag(r.method)) +
                    "] " + or_dash(r.source_module) + " → " + safe_text(r.path) +
                    " (user:" + or_dash(r.user) + ")\n";
  if (debug) out += hex_dump(r.body);
  return out;
}

std::string format_response(const TraceResponse& r, bool debug) {
  std::string out = "← #" + std::to_string(r.trace_id) + " [" + std::to_string(r.status) + "] " +
                    safe_text(r.path) + " (" + std::to_string(r.body.size()) + " bytes)\n";
  if (debug) out += hex_dump(r.body);
  return out;
}

Result<TraceSubId> TraceHub::add(std::string_view filter, bool debug, std::string_view owner) {
  if (filter.size() > 1024) return make_error(400, "trace filter too long");
  if (filter.find('\0') != std::string_view::npos) return make_error(400, "trace filter contains NUL");
  TraceSubId id = next_id_++;
  subs_.emplace(id, TraceSub{id, std::string(filter), debug, std::string(owner)});
  return id;
}

bool TraceHub::remove(TraceSubId id) { return subs_.erase(id) > 0; }

std::size_t TraceHub::remove_owner(std::string_view owner) {
  return std::erase_if(subs_, [&](const auto& kv) { return kv.second.owner == owner; });
}

std::vector<TraceLine> TraceHub::on_request(const TraceRequest& r) const {
  std::vector<TraceLine> out;
  for (const auto& [id, sub] : subs_)
    if (filter_matches(sub, r.path)) out.push_back({id, format_request(r, sub.debug)});
  return out;
}

std::vector<TraceLine> TraceHub::on_response(const TraceResponse& r) const {
  std::vector<TraceLine> out;
  for (const auto& [id, sub] : subs_)
    if (filter_matches(sub, r.path)) out.push_back({id, format_response(r, sub.debug)});
  return out;
}

}  // namespace portal::events

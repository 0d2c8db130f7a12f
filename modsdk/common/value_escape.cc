#include "common/value_escape.h"

namespace portal::config {

namespace {

constexpr char kHex[] = "0123456789abcdef";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_hex(std::string& out, unsigned char u) {
  out += "\\x";
  out += kHex[u >> 4];
  out += kHex[u & 0xf];
}

}  // namespace

std::string escape_value(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    auto u = static_cast<unsigned char>(c);
    bool edge = i == 0 || i + 1 == raw.size();
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f || (c == ' ' && edge)) {
      append_hex(out, u);
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> unescape_value(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out += in[i];
      continue;
    }
    auto bad = [&] { return make_error(400, "bad escape at byte " + std::to_string(i + 1)); };
    if (i + 1 >= in.size()) return bad();
    char e = in[i + 1];
    if (e == 'x') {
      if (i + 3 >= in.size()) return bad();
      int hi = hex_digit(in[i + 2]), lo = hex_digit(in[i + 3]);
      if (hi < 0 || lo < 0) return bad();
      out += static_cast<char>(hi * 16 + lo);
      i += 3;
      continue;
    }
    switch (e) {
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      default: return bad();
    }
    ++i;
  }
  return out;
}

}  // namespace portal::config

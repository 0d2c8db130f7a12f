#include "sse.h"

#include <string_view>

namespace portal::web {

namespace {

// Keeps CR and LF out of a single-line field.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

}  // namespace

std::string format_sse(const Event& ev) {
  std::string out;
  if (ev.dropped > 0) out += ": dropped " + std::to_string(ev.dropped) + "\n";
  if (ev.trace_id != 0) out += "id: " + std::to_string(ev.trace_id) + "\n";
  out += "event: " + one_line(ev.path) + "\n";
  std::string_view body = ev.body;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
  // Every line of the body is one data: line; CRLF, CR and LF all end a line (as in SSE).
  do {
    std::size_t end = body.find_first_of("\r\n");
    out += "data: ";
    out += body.substr(0, end);
    out += '\n';
    if (end == std::string_view::npos) break;
    std::size_t skip = (body[end] == '\r' && end + 1 < body.size() && body[end + 1] == '\n') ? 2 : 1;
    body.remove_prefix(end + skip);
  } while (true);
  out += '\n';
  return out;
}

}  // namespace portal::web

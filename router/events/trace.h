// Trace subscribers (the CLI's `verbose` / `debug`) and the trace line format of
// COMPAT.md 1.7. Pure: the router feeds requests and responses in and writes the returned
// lines to each subscriber's sink.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "portal/result.h"

namespace portal::events {

enum class TraceMethod { Get, Set, Call, Event, Sub, Unsub, Meta };

// "GET", "SET", "CALL", "EVT", "SUB", "UNSUB", "META".
std::string_view method_tag(TraceMethod m);

struct TraceRequest {
  std::uint64_t trace_id = 0;
  TraceMethod method = TraceMethod::Get;
  std::string_view source_module;  // empty: "-"
  std::string_view path;
  std::string_view user;  // empty: "-"
  std::string_view body;
};

struct TraceResponse {
  std::uint64_t trace_id = 0;
  int status = 200;
  std::string_view path;
  std::string_view body;
};

inline constexpr std::size_t kTraceDumpBytes = 80;

// Renders untrusted text for a terminal: printable ASCII and valid UTF-8 pass, control
// characters (C0, DEL, C1), invalid UTF-8 and '\' become \xNN / "\\".
std::string safe_text(std::string_view s);

// `  %04zx  xx xx …  ascii` rows of 16 bytes over at most kTraceDumpBytes bytes, then
// `  ... +N bytes` when the body is longer. Empty body: no lines.
std::string hex_dump(std::string_view body);

// One line each, '\n'-terminated; with `debug` the body dump follows.
//   → #<trace_id> [<METHOD>] <source|-> → <path> (user:<u|->)
//   ← #<trace_id> [<status>] <path> (<N> bytes)
std::string format_request(const TraceRequest& r, bool debug);
std::string format_response(const TraceResponse& r, bool debug);

using TraceSubId = std::uint64_t;

struct TraceSub {
  TraceSubId id = 0;
  std::string filter;  // substring of the path; "/" or "" = everything
  bool debug = false;
  std::string owner;   // e.g. the CLI client id, for removal when it goes away
};

struct TraceLine {
  TraceSubId sub = 0;
  std::string text;
};

// No cap on subscribers (the original's 8 was an accident, COMPAT.md header).
class TraceHub {
 public:
  // 400 when the filter holds a NUL or is longer than 1024 bytes.
  Result<TraceSubId> add(std::string_view filter, bool debug, std::string_view owner);
  bool remove(TraceSubId id);
  std::size_t remove_owner(std::string_view owner);
  bool empty() const { return subs_.empty(); }
  std::size_t size() const { return subs_.size(); }

  // The lines each interested subscriber should receive, in subscription order.
  std::vector<TraceLine> on_request(const TraceRequest& r) const;
  std::vector<TraceLine> on_response(const TraceResponse& r) const;

 private:
  std::map<TraceSubId, TraceSub> subs_;
  TraceSubId next_id_ = 1;
};

}  // namespace portal::events

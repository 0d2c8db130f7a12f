// SDK structs <-> Protobuf, for hosts (worker, router, stub router). Modules never see pb::.
#pragma once

#include "portal.pb.h"
#include "portal/message.h"
#include "portal/module.h"

namespace portal::host {

void to_pb(const Message& in, pb::Message& out);
Message from_pb(const pb::Message& in);
void to_pb(const Response& in, std::uint64_t id, pb::Response& out);
Response from_pb(const pb::Response& in);
void to_pb(const PathSpec& in, pb::PathSpec& out);
PathSpec from_pb(const pb::PathSpec& in);
void to_pb(const EventSpec& in, pb::EventSpec& out);
EventSpec from_pb(const pb::EventSpec& in);

// Path rules shared by every host: absolute, no NUL, at most 1024 bytes (COMPAT.md 1.1
// keeps it "meaningful"; we refuse rather than truncate), a wildcard only as a last "/*".
Status validate_path(std::string_view path);

inline constexpr std::string_view kEventsPrefix = "/events/";

// An event a module declares: the path rules, under /events/ and exact (no '*' at all, so
// it can never be mistaken for a pattern).
Status validate_event_path(std::string_view path);
// A subscription pattern: exactly "*", or an absolute path (exact or "/prefix/*") with no
// NUL and at most 1024 bytes. Whether a '*' elsewhere means anything is the router's call.
Status validate_pattern(std::string_view pattern);

}  // namespace portal::host

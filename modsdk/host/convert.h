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

// Path rules shared by every host: absolute, no NUL, at most 1024 bytes (COMPAT.md 1.1
// keeps it "meaningful"; we refuse rather than truncate), a wildcard only as a last "/*".
Status validate_path(std::string_view path);

}  // namespace portal::host

// The ctl socket's frames (README.md "Wire protocol"): a u32 little-endian length, then a
// serialized portal.pb.Envelope. A module must not link the generated Protobuf code (the
// host already registered portal.proto; a second copy aborts at dlopen), so this file reads
// and writes the small part of the Protobuf wire format the socket needs: an Envelope
// holding a Message (client -> server) or a Response (server -> client).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "portal/message.h"
#include "portal/result.h"

namespace portal::ctl {

inline constexpr std::size_t kFrameHeaderBytes = 4;

// A request read from a client. `message` carries only what a client may set: path,
// method, headers, body, timeout and the credentials of ctx; never an identity.
struct RequestFrame {
  std::uint64_t id = 0;
  std::uint64_t method_value = 0;  // as sent; `message.method` is set when it is 1..7
  bool method_known = false;
  Message message;
};

std::uint32_t read_frame_length(const char* header);
void write_frame_length(char* header, std::uint32_t length);

// Decodes the payload of one frame (without its length). An error means the bytes are not
// an Envelope holding a `request`; its message says why (for the log).
Result<RequestFrame> decode_request(std::string_view payload);

// The whole frame (length included) of Envelope{response{id, status, headers, body}}.
// A response too large for a frame becomes a 500.
std::string encode_response(std::uint64_t id, const Response& response);

}  // namespace portal::ctl

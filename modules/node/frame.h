// Federation frames (DESIGN.md §7, docs/PROTOCOL.md §11): a 11-byte header in network
// byte order — magic "PRT\0", version 0x0002, type, u32 body length — then the Protobuf
// body (node.proto).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portal::node {

inline constexpr std::size_t kFrameHeaderSize = 11;
inline constexpr std::uint16_t kFrameVersion = 2;
// Before authentication no frame body may exceed this.
inline constexpr std::uint32_t kPreAuthMaxBody = 4096;

enum class FrameType : std::uint8_t {
  request = 0x01,
  response = 0x02,
  event = 0x03,
  auth_challenge = 0x04,
  auth_response = 0x05,
  ping = 0x06,
  pong = 0x07,
};

struct Frame {
  FrameType type = FrameType::request;
  std::string body;
};

// Appends header + body to `out`.
void append_frame(std::string& out, FrameType type, std::string_view body);

// Incremental parser for one direction of a link. feed() takes bytes as they arrive; next()
// hands out complete frames in order. A bad magic, an unknown version or type, or a length
// over the limit is an error that sticks: the link must close. The limit is checked on the
// header alone, before any allocation for the body.
//
// next() parses one frame at a time, under the limit in force when it is called: a link
// raises the limit after the handshake frame, and the frames that arrived in the same read
// behind it are then checked against the new one.
class FrameParser {
 public:
  explicit FrameParser(std::uint32_t max_body) : max_body_(max_body) {}
  void set_max_body(std::uint32_t max_body) { max_body_ = max_body; }

  // False once the stream is broken (error() says why).
  bool feed(std::string_view bytes);
  // The next complete frame; nullopt when none is complete yet or the stream is broken.
  std::optional<Frame> next();
  const std::string& error() const { return error_; }
  // Bytes buffered and not yet handed out.
  std::size_t buffered() const;

 private:
  // Checks the header at pos_ once it is complete; false (and error_ set) when it is bad.
  bool check_header();
  void compact();
  std::uint32_t max_body_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace portal::node

#include "frame.h"

#include <algorithm>
#include <cstring>

namespace portal::node {

namespace {

constexpr char kMagic[4] = {'P', 'R', 'T', '\0'};
// Consumed bytes are dropped from the front of the buffer once they are this many and
// outweigh what is left, so a long-lived link does not keep moving its tail around.
constexpr std::size_t kCompactAt = 64 * 1024;
// An empty buffer bigger than this is given back: one large frame must not pin its memory
// for the life of the link.
constexpr std::size_t kKeepCapacity = 1 << 20;

std::uint16_t load_u16(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(b[0] << 8 | b[1]);
}

std::uint32_t load_u32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

bool known_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(FrameType::request) && t <= static_cast<std::uint8_t>(FrameType::pong);
}

}  // namespace

void append_frame(std::string& out, FrameType type, std::string_view body) {
  const auto n = static_cast<std::uint32_t>(body.size());
  const char header[kFrameHeaderSize] = {
      kMagic[0], kMagic[1], kMagic[2], kMagic[3],
      static_cast<char>(kFrameVersion >> 8), static_cast<char>(kFrameVersion & 0xff),
      static_cast<char>(type),
      static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n),
  };
  out.append(header, sizeof header);
  out.append(body);
}

bool FrameParser::feed(std::string_view bytes) {
  if (!error_.empty()) return false;
  compact();
  buf_.append(bytes);
  return check_header();
}

std::optional<Frame> FrameParser::next() {
  if (!check_header() || buf_.size() - pos_ < kFrameHeaderSize) return std::nullopt;
  const char* h = buf_.data() + pos_;
  const std::uint32_t n = load_u32(h + 7);
  if (buf_.size() - pos_ - kFrameHeaderSize < n) return std::nullopt;
  Frame f{static_cast<FrameType>(h[6]), buf_.substr(pos_ + kFrameHeaderSize, n)};
  pos_ += kFrameHeaderSize + n;
  return f;
}

std::size_t FrameParser::buffered() const { return buf_.size() - pos_; }

bool FrameParser::check_header() {
  if (!error_.empty()) return false;
  const std::size_t avail = buf_.size() - pos_;
  const char* h = buf_.data() + pos_;
  // The magic is checked on its first byte already, so garbage is refused at once.
  if (std::memcmp(h, kMagic, std::min(avail, sizeof kMagic)) != 0) {
    error_ = "bad frame magic";
    return false;
  }
  if (avail < kFrameHeaderSize) return true;
  if (load_u16(h + 4) != kFrameVersion) {
    error_ = "unsupported frame version " + std::to_string(load_u16(h + 4));
    return false;
  }
  if (!known_type(static_cast<std::uint8_t>(h[6]))) {
    error_ = "unknown frame type " + std::to_string(static_cast<unsigned char>(h[6]));
    return false;
  }
  const std::uint32_t n = load_u32(h + 7);
  if (n > max_body_) {
    error_ = "frame body of " + std::to_string(n) + " bytes over the limit of " + std::to_string(max_body_);
    return false;
  }
  return true;
}

void FrameParser::compact() {
  if (pos_ == buf_.size()) {
    buf_.clear();
    if (buf_.capacity() > kKeepCapacity) buf_.shrink_to_fit();
    pos_ = 0;
  } else if (pos_ >= kCompactAt && pos_ > buf_.size() - pos_) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

}  // namespace portal::node

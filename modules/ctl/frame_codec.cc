#include "frame_codec.h"

#include <cstring>
#include <limits>
#include <vector>

namespace portal::ctl {

namespace {

// Protobuf wire types (groups, 3 and 4, are refused: nothing in portal.proto uses them).
enum WireType : int { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// Field numbers of portal.proto.
enum EnvelopeField : std::uint32_t { kEnvRequest = 1, kEnvResponse = 2, kEnvLastKind = 8 };
enum MessageField : std::uint32_t { kMsgId = 1, kMsgPath, kMsgMethod, kMsgHeaders, kMsgBody, kMsgCtx, kMsgTimeout };
enum ResponseField : std::uint32_t { kRespId = 1, kRespStatus, kRespHeaders, kRespBody };
enum ContextField : std::uint32_t { kCtxCredentials = 5 };
enum CredentialsField : std::uint32_t { kCredApiKey = 1, kCredToken, kCredUsername, kCredPassword };

struct Field {
  std::uint32_t number = 0;
  int type = 0;
  std::uint64_t value = 0;  // varint and fixed types
  std::string_view bytes;   // length-delimited
};

// Reads fields one by one without recursing: nested messages are handed out as bytes.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool at_end() const { return p_ == end_; }
  const char* error() const { return error_; }

  bool next(Field& f) {
    std::uint64_t tag = 0;
    if (!varint(tag)) return fail("truncated field tag");
    if (tag > std::numeric_limits<std::uint32_t>::max() || (tag >> 3) == 0) return fail("invalid field tag");
    f.number = static_cast<std::uint32_t>(tag >> 3);
    f.type = static_cast<int>(tag & 7);
    switch (f.type) {
      case kVarint: return varint(f.value) || fail("truncated varint");
      case kFixed64: return fixed(f.value, 8);
      case kFixed32: return fixed(f.value, 4);
      case kLen: return length_delimited(f.bytes);
      default: return fail("unsupported wire type");
    }
  }

 private:
  bool fail(const char* why) {
    error_ = why;
    return false;
  }
  bool varint(std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const auto b = static_cast<unsigned char>(*p_++);
      out |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;  // longer than 10 bytes
  }
  bool fixed(std::uint64_t& out, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return fail("truncated fixed-size field");
    out = 0;
    for (std::size_t i = 0; i < n; ++i) out |= static_cast<std::uint64_t>(static_cast<unsigned char>(p_[i])) << (8 * i);
    p_ += n;
    return true;
  }
  bool length_delimited(std::string_view& out) {
    std::uint64_t len = 0;
    if (!varint(len)) return fail("truncated length");
    if (len > static_cast<std::uint64_t>(end_ - p_)) return fail("field longer than its message");
    out = std::string_view(p_, static_cast<std::size_t>(len));
    p_ += len;
    return true;
  }

  const char* p_;
  const char* end_;
  const char* error_ = nullptr;
};

// Calls fn(field) for every field of `data`; false (and `why`) on malformed bytes. A known
// field number with an unexpected wire type is skipped, as Protobuf treats it as unknown.
template <class Fn>
bool for_each_field(std::string_view data, const char*& why, Fn&& fn) {
  WireReader r(data);
  Field f;
  while (!r.at_end()) {
    if (!r.next(f)) {
      why = r.error();
      return false;
    }
    if (!fn(f)) return false;
  }
  return true;
}

bool parse_header(std::string_view data, Header& out, const char*& why) {
  return for_each_field(data, why, [&](const Field& f) {
    if (f.type != kLen) return true;
    if (f.number == 1) out.key.assign(f.bytes);
    if (f.number == 2) out.value.assign(f.bytes);
    return true;
  });
}

bool parse_credentials(std::string_view data, Credentials& out, const char*& why) {
  return for_each_field(data, why, [&](const Field& f) {
    if (f.type != kLen) return true;  // peer_uid (varint) is never taken from a client
    switch (f.number) {
      case kCredApiKey: out.api_key.assign(f.bytes); break;
      case kCredToken: out.token.assign(f.bytes); break;
      case kCredUsername: out.username.assign(f.bytes); break;
      case kCredPassword: out.password.assign(f.bytes); break;
      default: break;
    }
    return true;
  });
}

// Only the credentials of a client's context are kept: auth, asserted, trace and sources
// are the router's to decide.
bool parse_context(std::string_view data, Credentials& out, const char*& why) {
  return for_each_field(data, why, [&](const Field& f) {
    if (f.number == kCtxCredentials && f.type == kLen) return parse_credentials(f.bytes, out, why);
    return true;
  });
}

bool parse_message(std::string_view data, RequestFrame& out, const char*& why) {
  Message& m = out.message;
  return for_each_field(data, why, [&](const Field& f) {
    const bool is_len = f.type == kLen, is_varint = f.type == kVarint;
    switch (f.number) {
      case kMsgId: if (is_varint) out.id = f.value; break;
      case kMsgPath: if (is_len) m.path.assign(f.bytes); break;
      case kMsgMethod: if (is_varint) out.method_value = f.value; break;
      case kMsgHeaders:
        if (is_len) {
          Header h;
          if (!parse_header(f.bytes, h, why)) return false;
          m.headers.push_back(std::move(h));
        }
        break;
      case kMsgBody: if (is_len) m.body.assign(f.bytes); break;
      case kMsgCtx: if (is_len) return parse_context(f.bytes, m.ctx.credentials, why); break;
      case kMsgTimeout: if (is_varint) m.timeout = std::chrono::milliseconds(static_cast<std::uint32_t>(f.value)); break;
      default: break;
    }
    return true;
  });
}

// --- encoding ---------------------------------------------------------------------------

std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

void put_varint(std::string& out, std::uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>(v | 0x80));
  out.push_back(static_cast<char>(v));
}

std::size_t len_field_size(std::uint32_t number, std::size_t len) {
  return varint_size(number << 3 | kLen) + varint_size(len) + len;
}

std::size_t varint_field_size(std::uint32_t number, std::uint64_t v) {
  return varint_size(number << 3 | kVarint) + varint_size(v);
}

void put_len_header(std::string& out, std::uint32_t number, std::size_t len) {
  put_varint(out, number << 3 | kLen);
  put_varint(out, len);
}

void put_bytes(std::string& out, std::uint32_t number, std::string_view v) {
  put_len_header(out, number, v.size());
  out.append(v);
}

void put_varint_field(std::string& out, std::uint32_t number, std::uint64_t v) {
  put_varint(out, number << 3 | kVarint);
  put_varint(out, v);
}

// Proto3 leaves fields at their default value out.
std::size_t header_size(const Header& h) {
  return (h.key.empty() ? 0 : len_field_size(1, h.key.size())) +
         (h.value.empty() ? 0 : len_field_size(2, h.value.size()));
}

std::size_t response_size(std::uint64_t id, std::uint32_t status, const Response& r) {
  std::size_t n = 0;
  if (id) n += varint_field_size(kRespId, id);
  if (status) n += varint_field_size(kRespStatus, status);
  for (const Header& h : r.headers) n += len_field_size(kRespHeaders, header_size(h));
  if (!r.body.empty()) n += len_field_size(kRespBody, r.body.size());
  return n;
}

void put_response(std::string& out, std::uint64_t id, std::uint32_t status, const Response& r) {
  if (id) put_varint_field(out, kRespId, id);
  if (status) put_varint_field(out, kRespStatus, status);
  for (const Header& h : r.headers) {
    put_len_header(out, kRespHeaders, header_size(h));
    if (!h.key.empty()) put_bytes(out, 1, h.key);
    if (!h.value.empty()) put_bytes(out, 2, h.value);
  }
  if (!r.body.empty()) put_bytes(out, kRespBody, r.body);
}

}  // namespace

std::uint32_t read_frame_length(const char* header) {
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(header[i])) << (8 * i);
  return n;
}

void write_frame_length(char* header, std::uint32_t length) {
  for (int i = 0; i < 4; ++i) header[i] = static_cast<char>((length >> (8 * i)) & 0xff);
}

Result<RequestFrame> decode_request(std::string_view payload) {
  // Envelope is a oneof: the last kind seen wins, and repeated `request` fields merge.
  std::vector<std::string_view> parts;
  std::uint32_t kind = 0;
  const char* why = nullptr;
  bool ok = for_each_field(payload, why, [&](const Field& f) {
    if (f.type != kLen || f.number < kEnvRequest || f.number > kEnvLastKind) return true;
    if (f.number != kind) parts.clear();
    kind = f.number;
    if (kind == kEnvRequest) parts.push_back(f.bytes);
    return true;
  });
  if (!ok) return make_error(status::bad_request, why);
  if (kind != kEnvRequest)
    return make_error(status::bad_request, kind ? "envelope does not hold a request" : "empty envelope");
  RequestFrame out;
  for (std::string_view part : parts)
    if (!parse_message(part, out, why)) return make_error(status::bad_request, why);
  out.method_known = out.method_value >= 1 && out.method_value <= 7;
  if (out.method_known) out.message.method = static_cast<Method>(out.method_value);
  return out;
}

std::string encode_response(std::uint64_t id, const Response& response) {
  const auto status = static_cast<std::uint32_t>(response.status);
  const std::size_t inner = response_size(id, status, response);
  const std::size_t envelope = len_field_size(kEnvResponse, inner);
  if (envelope > std::numeric_limits<std::uint32_t>::max())
    return encode_response(id, respond(status::internal_error, "Response too large for a ctl frame\n"));
  std::string out;
  out.reserve(kFrameHeaderBytes + envelope);
  out.resize(kFrameHeaderBytes);
  write_frame_length(out.data(), static_cast<std::uint32_t>(envelope));
  put_len_header(out, kEnvResponse, inner);
  put_response(out, id, status, response);
  return out;
}

}  // namespace portal::ctl

// frame_codec.cc against libprotobuf: what the generated code writes, the codec reads, and
// what the codec writes, the generated code reads. Settings parsing too.
#include <random>

#include <gtest/gtest.h>

#include "frame_codec.h"
#include "portal.pb.h"
#include "settings.h"

namespace portal::ctl {
namespace {

std::string envelope_of(const pb::Message& m) {
  pb::Envelope env;
  *env.mutable_request() = m;
  return env.SerializeAsString();
}

pb::Message full_message() {
  pb::Message m;
  m.set_id(0xfedcba9876543210ull);
  m.set_path("/a/b");
  m.set_method(pb::CALL);
  for (int i = 0; i < 3; ++i) {
    pb::Header* h = m.add_headers();
    h->set_key("k" + std::to_string(i));
    h->set_value(std::string("v\0", 2) + std::to_string(i));
  }
  m.set_body(std::string(300, 'x'));
  m.set_timeout_ms(0xffffffffu);
  pb::Context* ctx = m.mutable_ctx();
  ctx->mutable_credentials()->set_api_key("ak");
  ctx->mutable_credentials()->set_token("tok");
  ctx->mutable_credentials()->set_username("u");
  ctx->mutable_credentials()->set_password("p");
  ctx->mutable_credentials()->set_peer_uid(0);
  ctx->mutable_auth()->set_user("root");
  ctx->mutable_trace()->set_trace_id(5);
  ctx->set_source_module("web");
  return m;
}

TEST(FrameCodec, ReadsWhatProtobufWrites) {
  Result<RequestFrame> f = decode_request(envelope_of(full_message()));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->id, 0xfedcba9876543210ull);
  EXPECT_TRUE(f->method_known);
  const Message& m = f->message;
  EXPECT_EQ(m.method, Method::call);
  EXPECT_EQ(m.path, "/a/b");
  ASSERT_EQ(m.headers.size(), 3u);
  EXPECT_EQ(m.headers[2].key, "k2");
  EXPECT_EQ(m.headers[2].value, std::string("v\0", 2) + "2");
  EXPECT_EQ(m.body, std::string(300, 'x'));
  EXPECT_EQ(m.timeout.count(), 0xffffffffll);
  EXPECT_EQ(m.ctx.credentials.api_key, "ak");
  EXPECT_EQ(m.ctx.credentials.token, "tok");
  EXPECT_EQ(m.ctx.credentials.username, "u");
  EXPECT_EQ(m.ctx.credentials.password, "p");
  EXPECT_TRUE(m.ctx.auth.user.empty());
  EXPECT_TRUE(m.ctx.source_module.empty());
  EXPECT_EQ(m.ctx.trace.trace_id, 0u);
}

TEST(FrameCodec, EmptyRequestHasDefaults) {
  Result<RequestFrame> f = decode_request(envelope_of(pb::Message()));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, 0u);
  EXPECT_FALSE(f->method_known);
  EXPECT_TRUE(f->message.path.empty());
}

TEST(FrameCodec, OneofAndMergeFollowProtobuf) {
  pb::Message a = pb::Message(), b = pb::Message();
  a.set_path("/first");
  a.add_headers()->set_key("h1");
  b.set_id(9);
  b.add_headers()->set_key("h2");
  // Two `request` fields merge; a later other kind replaces the request.
  std::string merged = envelope_of(a) + envelope_of(b);
  pb::Envelope reference;
  ASSERT_TRUE(reference.ParseFromString(merged));
  Result<RequestFrame> f = decode_request(merged);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->message.path, reference.request().path());
  EXPECT_EQ(f->id, reference.request().id());
  EXPECT_EQ(f->message.headers.size(), 2u);

  pb::Envelope resp;
  resp.mutable_response()->set_id(1);
  EXPECT_FALSE(decode_request(envelope_of(a) + resp.SerializeAsString()));
  EXPECT_TRUE(decode_request(resp.SerializeAsString() + envelope_of(a)));
}

TEST(FrameCodec, SkipsUnknownFieldsOfEveryWireType) {
  std::string unknown;
  unknown += std::string("\xa8\x06\x01", 3);                 // field 101, varint
  unknown += std::string("\xa9\x06", 2) + std::string(8, 'z');  // field 101, fixed64
  unknown += std::string("\xad\x06", 2) + std::string(4, 'z');  // field 101, fixed32
  unknown += std::string("\xaa\x06\x02zz", 5);                // field 101, bytes
  std::string payload = unknown + envelope_of(full_message()) + unknown;
  Result<RequestFrame> f = decode_request(payload);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->message.path, "/a/b");
}

TEST(FrameCodec, RejectsMalformedBytes) {
  EXPECT_FALSE(decode_request(""));
  EXPECT_FALSE(decode_request(std::string(12, '\xff')));
  EXPECT_FALSE(decode_request(std::string("\x0b", 1)));      // group start
  EXPECT_FALSE(decode_request(std::string("\x00\x00", 2)));  // field 0
  EXPECT_FALSE(decode_request(std::string("\x0a\x05\x08", 3)));
  // Every strict prefix of a valid envelope is either rejected or a smaller valid one.
  const std::string full = envelope_of(full_message());
  for (std::size_t n = 0; n < full.size(); ++n) {
    pb::Envelope reference;
    EXPECT_EQ(static_cast<bool>(decode_request(full.substr(0, n))),
              reference.ParseFromString(full.substr(0, n)) && reference.has_request())
        << "prefix " << n;
  }
}

TEST(FrameCodec, SurvivesRandomBytes) {
  std::mt19937 rng(1234);
  const std::string valid = envelope_of(full_message());
  for (int i = 0; i < 20000; ++i) {
    std::string s = valid;
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips)
      s[rng() % s.size()] = static_cast<char>(rng());
    (void)decode_request(s);
    std::string r(rng() % 64, '\0');
    for (char& c : r) c = static_cast<char>(rng());
    (void)decode_request(r);
  }
}

TEST(FrameCodec, ProtobufReadsWhatItWrites) {
  Response r = respond(404, std::string("no\0pe", 5));
  r.headers.push_back({"a", "b"});
  r.headers.push_back({"", ""});
  std::string frame = encode_response(77, r);
  ASSERT_GE(frame.size(), 4u);
  EXPECT_EQ(read_frame_length(frame.data()), frame.size() - 4);
  pb::Envelope env;
  ASSERT_TRUE(env.ParseFromString(frame.substr(4)));
  ASSERT_TRUE(env.has_response());
  EXPECT_EQ(env.response().id(), 77u);
  EXPECT_EQ(env.response().status(), 404u);
  EXPECT_EQ(env.response().body(), std::string("no\0pe", 5));
  ASSERT_EQ(env.response().headers_size(), 2);
  EXPECT_EQ(env.response().headers(0).value(), "b");
  EXPECT_EQ(env.response().headers(1).key(), "");
  // Byte for byte what the generated code writes.
  EXPECT_EQ(frame.substr(4), env.SerializeAsString());
}

TEST(FrameCodec, EmptyResponseIsAnEmptyMessage) {
  Response r;
  r.status = 0;
  std::string frame = encode_response(0, r);
  pb::Envelope env;
  ASSERT_TRUE(env.ParseFromString(frame.substr(4)));
  EXPECT_TRUE(env.has_response());
}

TEST(FrameCodec, LengthIsLittleEndian) {
  char h[4];
  write_frame_length(h, 0x01020304u);
  EXPECT_EQ(h[0], 4);
  EXPECT_EQ(h[3], 1);
  EXPECT_EQ(read_frame_length(h), 0x01020304u);
}

Result<Settings> settings_of(std::map<std::string, std::string> values) {
  return parse_settings([values](std::string_view k) -> std::optional<std::string> {
    auto it = values.find(std::string(k));
    return it == values.end() ? std::nullopt : std::optional(it->second);
  });
}

TEST(CtlSettings, Defaults) {
  Result<Settings> s = settings_of({{"socket", "/run/x.sock"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->socket, "/run/x.sock");
  EXPECT_EQ(s->mode, 0660u);
  EXPECT_EQ(s->max_frame, 80u << 20);
  EXPECT_EQ(s->idle_timeout, std::chrono::milliseconds(300000));
  EXPECT_EQ(s->max_clients, 256u);
}

TEST(CtlSettings, ValuesAndErrors) {
  Result<Settings> s = settings_of({{"socket", "/s"}, {"mode", "0600"}, {"max_frame", "1M"}, {"idle_timeout_ms", "0"},
                                    {"max_clients", "3"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->mode, 0600u);
  EXPECT_EQ(s->max_frame, 1u << 20);
  EXPECT_EQ(s->idle_timeout.count(), 0);
  EXPECT_EQ(s->max_clients, 3u);
  EXPECT_EQ(settings_of({}).error().code, kFatalConfig);
  EXPECT_FALSE(settings_of({{"socket", std::string(200, 'a')}}));
  EXPECT_FALSE(settings_of({{"socket", "/s"}, {"mode", "0999"}}));
  EXPECT_FALSE(settings_of({{"socket", "/s"}, {"max_frame", "8G"}}));
  EXPECT_FALSE(settings_of({{"socket", "/s"}, {"max_frame", "-1"}}));
  EXPECT_EQ(parse_size("64k"), 65536u);
  EXPECT_EQ(parse_size("2G"), 2ull << 30);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("1.5M"));
}

}  // namespace
}  // namespace portal::ctl

// The pure HTTP <-> Portal mapping: no sockets, no router.
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "http_mapping.h"
#include "settings.h"
#include "sse.h"

namespace portal::web::test {
namespace {

Target target_of(std::string_view t) {
  Result<Target> r = parse_target(t, "/api");
  EXPECT_TRUE(r) << t << ": " << (r ? "" : r.error().message);
  return r ? *r : Target{};
}

int rejection_of(std::string_view t) {
  Result<Target> r = parse_target(t, "/api");
  return r ? 0 : r.error().code;
}

TEST(MethodMap, FollowsCompatRules) {
  EXPECT_EQ(map_method("GET", false), Method::get);
  EXPECT_EQ(map_method("HEAD", false), Method::get);
  EXPECT_EQ(map_method("POST", false), Method::set);
  EXPECT_EQ(map_method("PUT", false), Method::call);
  EXPECT_EQ(map_method("DELETE", false), Method::call);
  EXPECT_EQ(map_method("GET", true), Method::call);
  EXPECT_EQ(map_method("POST", true), Method::call);
  EXPECT_FALSE(map_method("PATCH", false));
  EXPECT_FALSE(map_method("BREW", true));
  EXPECT_FALSE(map_method("get", false));  // methods are case-sensitive
}

TEST(Target, StripsPrefixAndDecodes) {
  Target t = target_of("/api/hello/resources/greeting");
  EXPECT_EQ(t.kind, TargetKind::api);
  EXPECT_EQ(t.path, "/hello/resources/greeting");
  EXPECT_EQ(target_of("/api/a%20b/%C3%A9t%C3%A9/").path, "/a b/été");
  EXPECT_EQ(target_of("/api/a+b").path, "/a+b") << "'+' is a space in the query only";
  EXPECT_EQ(target_of("/api/x#frag").path, "/x");
}

TEST(Target, IndexAndOutside) {
  EXPECT_EQ(target_of("/api").kind, TargetKind::index);
  EXPECT_EQ(target_of("/api/").kind, TargetKind::index);
  EXPECT_EQ(target_of("/api?format=json").kind, TargetKind::index);
  EXPECT_EQ(target_of("/").kind, TargetKind::outside);
  EXPECT_EQ(target_of("/apix/y").kind, TargetKind::outside);
  EXPECT_EQ(target_of("/other/api/x").kind, TargetKind::outside);
  EXPECT_EQ(target_of("*").kind, TargetKind::outside);
}

TEST(Target, QueryBecomesHeaders) {
  Target t = target_of("/api/x?a=1&b=two+words&c%3D=%26%2B&flag&=v&action=reload");
  ASSERT_EQ(t.query.size(), 4u);
  EXPECT_EQ(t.query[0].key, "a");
  EXPECT_EQ(t.query[0].value, "1");
  EXPECT_EQ(t.query[1].value, "two words");
  EXPECT_EQ(t.query[2].key, "c=");
  EXPECT_EQ(t.query[2].value, "&+");
  EXPECT_EQ(t.query[3].key, "action");
  EXPECT_TRUE(t.has_action);
  EXPECT_FALSE(target_of("/api/x?transaction=1").has_action);
}

TEST(Target, RejectsDangerousPaths) {
  EXPECT_EQ(rejection_of("/api/a/../b"), 400);
  EXPECT_EQ(rejection_of("/api/.."), 400);
  EXPECT_EQ(rejection_of("/api/a/%2e%2e/b"), 400);
  EXPECT_EQ(rejection_of("/api/a/%2E%2e"), 400);
  EXPECT_EQ(rejection_of("/api/a%00b"), 400);
  EXPECT_EQ(rejection_of("/api/%ff%fe"), 400);
  EXPECT_EQ(rejection_of("/api/%c0%af"), 400) << "overlong encoding";
  EXPECT_EQ(rejection_of("/api/%ed%a0%80"), 400) << "surrogate";
  EXPECT_EQ(rejection_of("/api/%zz"), 400);
  EXPECT_EQ(rejection_of("/api/x%4"), 400);
  EXPECT_EQ(rejection_of("/api/x?a=%g1"), 400);
  EXPECT_EQ(rejection_of("/api/a..b/.x/..."), 0) << "only whole '..' segments";
}

TEST(PercentDecode, Basics) {
  EXPECT_EQ(percent_decode("a%2Fb+c", true), "a/b c");
  EXPECT_EQ(percent_decode("a%2fb+c", false), "a/b+c");
  EXPECT_FALSE(percent_decode("%", false));
  EXPECT_FALSE(percent_decode("%4", false));
  EXPECT_TRUE(valid_utf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
}

TEST(Credentials, AllFiveForms) {
  Headers q;
  Result<Credentials> c = extract_credentials({.x_api_key = "k1"}, q);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->api_key, "k1");

  q = {{"a", "1"}, {"api_key", "k2"}, {"b", "2"}};
  c = extract_credentials({}, q);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->api_key, "k2");
  ASSERT_EQ(q.size(), 2u) << "api_key never reaches the target module";
  EXPECT_EQ(q[0].key, "a");
  EXPECT_EQ(q[1].key, "b");

  q.clear();
  c = extract_credentials({.authorization = "Bearer tok1"}, q);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->token, "tok1");
  c = extract_credentials({.x_auth_token = "tok2"}, q);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->token, "tok2");

  c = extract_credentials({.authorization = "Basic " + base64_encode("alice:pa:ss")}, q);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_TRUE(c->api_key.empty() && c->token.empty());

  EXPECT_EQ(extract_credentials({.authorization = "Basic !!!"}, q).error().code, 400);
  EXPECT_EQ(extract_credentials({.authorization = "Basic " + base64_encode("nocolon")}, q).error().code, 400);
  c = extract_credentials({.authorization = "Digest x"}, q);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->empty());
}

TEST(Base64, RoundTrip) {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    std::optional<std::string> back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(base64_decode("a"));
}

TEST(ContentType, CompatRules) {
  EXPECT_EQ(content_type("/compress/functions/gzip", "{x"), "application/octet-stream");
  EXPECT_EQ(content_type("/x/decompress", ""), "application/octet-stream");
  EXPECT_EQ(content_type("/app/admin/page", "hi"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type("/x", "<!DOCTYPE html>"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type("/tools/json", "x"), "application/json; charset=utf-8");
  EXPECT_EQ(content_type("/x", "{\"a\":1}"), "application/json; charset=utf-8");
  EXPECT_EQ(content_type("/x", "hello"), "text/plain; charset=utf-8");
  EXPECT_EQ(content_type("/x", ""), "text/plain; charset=utf-8");
}

TEST(Json, RenderingAndEscaping) {
  EXPECT_EQ(render_json(200, "a\"b\\c\nd\t\x01"), "{\"status\":200,\"body\":\"a\\\"b\\\\c\\nd\\t\\u0001\"}");
  EXPECT_EQ(render_json(404, ""), "{\"status\":404,\"body\":\"\"}");
  EXPECT_EQ(render_json(200, "\xc3\xa9"), "{\"status\":200,\"body\":\"\xc3\xa9\"}");
  EXPECT_EQ(render_json(200, std::string("\xff\x00", 2)), "{\"status\":200,\"body_base64\":\"/wA=\"}");
  EXPECT_TRUE(wants_json("application/json", {}));
  EXPECT_TRUE(wants_json("text/html, Application/JSON;q=0.9", {}));
  EXPECT_TRUE(wants_json("", {{"format", "json"}}));
  EXPECT_FALSE(wants_json("*/*", {}));
  EXPECT_FALSE(wants_json("", {{"format", "text"}}));
}

TEST(Reason, Phrases) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(202), "Accepted");
  EXPECT_EQ(reason_phrase(409), "Conflict");
  EXPECT_EQ(reason_phrase(410), "Gone");
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(299), "Unknown");
}

TEST(Index, RendersCorePaths) {
  const std::string paths =
      "Registered paths:\n"
      "  /hello/resources/time                    \xe2\x86\x92 hello\n"
      "  /core/status                             \xe2\x86\x92 core\n"
      "  /hello/resources/greeting                \xe2\x86\x92 hello\n";
  const std::string index = render_index(paths, "/api");
  EXPECT_EQ(index.rfind("Portal v" PORTAL_WEB_VERSION " REST API\n====", 0), 0u) << index;
  EXPECT_NE(index.find("Endpoints (GET /api<path>):\n\n  [core]\n    GET /api/core/status"), std::string::npos)
      << index;
  const std::size_t greeting = index.find("    GET /api/hello/resources/greeting  ");
  ASSERT_NE(greeting, std::string::npos) << index;
  EXPECT_LT(greeting, index.find("/hello/resources/time"));
  EXPECT_NE(index.find("  [hello]\n"), std::string::npos);
  EXPECT_NE(index.find("[hello]\n    GET /api/hello/resources/greeting" + std::string(40 - 25 + 2, ' ') + "[hello]\n"),
            std::string::npos)
      << index;
  EXPECT_NE(index.find("\nAll paths accept GET. Use POST to create, PUT to call actions.\n"), std::string::npos);
}

TEST(Events, PatternsAndFormat) {
  EXPECT_EQ(event_pattern("/events"), "*");
  EXPECT_EQ(event_pattern("/events/myapp/*"), "/events/myapp/*");
  EXPECT_EQ(event_pattern("/events/myapp/tick"), "/events/myapp/tick");
  EXPECT_FALSE(event_pattern("/eventsx"));
  EXPECT_FALSE(event_pattern("/hello/x"));
  EXPECT_TRUE(wants_event_stream("text/event-stream"));
  EXPECT_FALSE(wants_event_stream("*/*"));

  Event ev{.path = "/events/myapp/tick", .body = "one\ntwo\r\nthree\n", .trace_id = 7};
  EXPECT_EQ(format_sse(ev), "id: 7\nevent: /events/myapp/tick\ndata: one\ndata: two\ndata: three\n\n");
  ev = Event{.path = "/events/a", .body = ""};
  EXPECT_EQ(format_sse(ev), "event: /events/a\ndata: \n\n");
  ev = Event{.path = "/events/a", .body = "x", .dropped = 3};
  EXPECT_EQ(format_sse(ev), ": dropped 3\nevent: /events/a\ndata: x\n\n");
}

TEST(Settings, DefaultsAndErrors) {
  auto from = [](std::map<std::string, std::string> m) {
    return parse_settings([m](std::string_view k) -> std::optional<std::string> {
      auto it = m.find(std::string(k));
      return it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
  };
  Result<Settings> s = from({});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->bind, "127.0.0.1");
  EXPECT_EQ(s->port, 8080);
  EXPECT_FALSE(s->tls_on());
  EXPECT_EQ(s->api_prefix, "/api");
  EXPECT_EQ(s->max_body, 16u << 20);
  EXPECT_EQ(s->max_header, 16u << 10);
  EXPECT_EQ(s->max_uri, 8u << 10);
  EXPECT_EQ(s->header_timeout.count(), 10000);
  EXPECT_EQ(s->idle_timeout.count(), 60000);
  EXPECT_EQ(s->cors_origin, "");
  EXPECT_EQ(s->max_connections, 1024u);

  s = from({{"port", "0"}, {"api_prefix", "/rest/"}, {"max_body", "1M"}, {"tls_port", "0"}, {"cors_origin", "*"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->port, 0);
  EXPECT_EQ(s->api_prefix, "/rest");
  EXPECT_EQ(s->max_body, 1u << 20);
  EXPECT_FALSE(s->tls_on());

  for (auto bad : std::vector<std::map<std::string, std::string>>{
           {{"port", "70000"}}, {{"port", "x"}}, {{"bind", "localhost"}}, {{"api_prefix", "api"}},
           {{"api_prefix", "/"}}, {{"max_body", "-1"}}, {{"header_timeout_ms", "0"}}, {{"max_connections", "0"}},
           {{"tls_port", "8443"}}, {{"tls_port", "8443"}, {"cert_file", "c.pem"}}, {{"cors_origin", "a b"}},
           {{"port", "8443"}, {"tls_port", "8443"}, {"cert_file", "c"}, {"key_file", "k"}}}) {
    Result<Settings> r = from(bad);
    ASSERT_FALSE(r) << bad.begin()->first << "=" << bad.begin()->second;
    EXPECT_EQ(r.error().code, kFatalConfig);
    EXPECT_NE(r.error().message.find(bad.size() == 1 ? bad.begin()->first : std::string("port")), std::string::npos)
        << r.error().message;
  }
}

}  // namespace
}  // namespace portal::web::test

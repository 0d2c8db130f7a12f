// mod_web on the stub router with real HTTP clients on 127.0.0.1.
#include <gtest/gtest.h>

#include "http_mapping.h"
#include "web_fixture.h"

namespace portal::web::test {
namespace {

std::string get(const std::string& target, const std::string& extra = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

// Answers with the status named by the `s` header (200 without one) and the body "ok <path>\n".
Response by_header(const Message& m) { return respond(std::stoi(m.header_or("s", "200")), "ok " + m.path + "\n"); }

TEST_F(WebTest, GetIsForwardedAndEveryStatusPassesThrough) {
  stub_.on_send("/app/*", by_header);
  ASSERT_TRUE(load());
  EXPECT_TRUE(stub_.logged("listening on 127.0.0.1 port " + std::to_string(port_)));
  const std::vector<std::pair<int, std::string>> cases = {
      {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {400, "Bad Request"}, {401, "Unauthorized"},
      {403, "Forbidden"}, {404, "Not Found"}, {409, "Conflict"}, {410, "Gone"}, {429, "Too Many Requests"},
      {500, "Internal Server Error"}, {503, "Service Unavailable"}, {504, "Gateway Timeout"}};
  run([&] {
    Client c(port_);
    for (const auto& [code, reason] : cases) {
      ASSERT_TRUE(c.send(get("/api/app/x%20y?s=" + std::to_string(code) + "&k=a+b")));
      std::optional<Reply> r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, code);
      EXPECT_EQ(r->reason, reason);
      EXPECT_EQ(r->body, "ok /app/x y\n");
      EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
      EXPECT_EQ(r->header("access-control-allow-origin"), "") << "no CORS header unless configured";
    }
  });
  std::vector<Message> sent = stub_.sent();
  ASSERT_EQ(sent.size(), cases.size());
  EXPECT_EQ(sent[0].method, Method::get);
  EXPECT_EQ(sent[0].path, "/app/x y");
  ASSERT_EQ(sent[0].headers.size(), 2u);
  EXPECT_EQ(sent[0].header_or("k", ""), "a b");
  EXPECT_EQ(sent[0].ctx.credentials.source, "127.0.0.1");
  EXPECT_TRUE(sent[0].ctx.credentials.empty());
  EXPECT_TRUE(sent[0].ctx.auth.user.empty());
}

TEST_F(WebTest, MethodsMapToPortalMethods) {
  stub_.on_send("/app/*", [](const Message& m) { return respond(201, "got " + m.body); });
  ASSERT_TRUE(load());
  auto with_body = [](const std::string& method, const std::string& target, const std::string& body) {
    return method + " " + target + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  };
  std::optional<Reply> r = fetch(with_body("POST", "/api/app/item", std::string("da\0ta", 5)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, std::string("got da\0ta", 9));
  ASSERT_TRUE(fetch(with_body("PUT", "/api/app/run", "x")));
  ASSERT_TRUE(fetch(with_body("DELETE", "/api/app/item", "")));
  ASSERT_TRUE(fetch(get("/api/app/item?action=reload")));
  ASSERT_TRUE(fetch(with_body("DELETE", "/api/app/item?action=purge", "")));

  std::vector<Message> sent = stub_.sent();
  ASSERT_GE(sent.size(), 5u);
  EXPECT_EQ(sent[0].method, Method::set);
  EXPECT_EQ(sent[0].body, std::string("da\0ta", 5));
  EXPECT_EQ(sent[1].method, Method::call);
  EXPECT_EQ(sent[1].body, "x");
  EXPECT_EQ(sent[2].method, Method::call);
  EXPECT_EQ(sent[2].header_or("action", ""), "delete");
  EXPECT_EQ(sent[3].method, Method::call);
  EXPECT_EQ(sent[3].header_or("action", ""), "reload");
  EXPECT_EQ(sent[4].header_or("action", ""), "purge");
  EXPECT_EQ(sent[4].headers.size(), 1u) << "an explicit action wins over DELETE's";
}

TEST_F(WebTest, HeadAnswersHeadersOnly) {
  stub_.on_send("/app/*", [](const Message&) { return respond(200, "twelve bytes"); });
  ASSERT_TRUE(load());
  std::optional<Reply> r = run([&] {
    Client c(port_);
    c.send("HEAD /api/app/h HTTP/1.1\r\nHost: t\r\n\r\n" + get("/api/app/g"));
    std::optional<Reply> head = c.read_response(true);
    std::optional<Reply> next = c.read_response();
    EXPECT_TRUE(next && next->body == "twelve bytes");
    return head;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-length"), "12");
  EXPECT_EQ(stub_.sent().at(0).method, Method::get);
}

TEST_F(WebTest, CredentialsAreForwardedInAllFiveForms) {
  stub_.on_send("/app/*", by_header);
  ASSERT_TRUE(load());
  ASSERT_TRUE(fetch(get("/api/app/1", "X-API-Key: key1\r\n")));
  ASSERT_TRUE(fetch(get("/api/app/2?x=1&api_key=key2")));
  ASSERT_TRUE(fetch(get("/api/app/3", "Authorization: Bearer tok3\r\n")));
  ASSERT_TRUE(fetch(get("/api/app/4", "X-Auth-Token: tok4\r\n")));
  ASSERT_TRUE(fetch(get("/api/app/5", "Authorization: Basic " + base64_encode("alice:s3cret") + "\r\n")));
  std::optional<Reply> bad = fetch(get("/api/app/6", "Authorization: Basic %%%\r\n"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);

  std::vector<Message> sent = stub_.sent();
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[0].ctx.credentials.api_key, "key1");
  EXPECT_EQ(sent[1].ctx.credentials.api_key, "key2");
  ASSERT_EQ(sent[1].headers.size(), 1u) << "api_key never reaches the module";
  EXPECT_EQ(sent[1].headers[0].key, "x");
  EXPECT_EQ(sent[2].ctx.credentials.token, "tok3");
  EXPECT_EQ(sent[3].ctx.credentials.token, "tok4");
  EXPECT_EQ(sent[4].ctx.credentials.username, "alice");
  EXPECT_EQ(sent[4].ctx.credentials.password, "s3cret");
  for (const Message& m : sent) {
    EXPECT_EQ(m.ctx.credentials.source, "127.0.0.1");
    EXPECT_TRUE(m.ctx.auth.user.empty());
  }
  for (const testing::LogLine& l : stub_.logs()) {
    EXPECT_EQ(l.text.find("key2"), std::string::npos) << l.text;
    EXPECT_EQ(l.text.find("s3cret"), std::string::npos) << l.text;
  }
}

TEST_F(WebTest, JsonModeAndContentTypes) {
  stub_.on_send("/app/*", [](const Message& m) {
    if (m.path == "/app/bin") return respond(200, std::string("\xff\x00", 2));
    if (m.path == "/app/obj") return respond(200, "{\"a\":1}");
    return respond(409, "say \"hi\"\n");
  });
  ASSERT_TRUE(load());
  std::optional<Reply> r = fetch(get("/api/app/x", "Accept: application/json\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r->body, "{\"status\":409,\"body\":\"say \\\"hi\\\"\\n\"}");
  r = fetch(get("/api/app/bin?format=json"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{\"status\":200,\"body_base64\":\"/wA=\"}");
  r = fetch(get("/api/app/obj"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r->body, "{\"a\":1}");
}

TEST_F(WebTest, KeepAliveAndConnectionClose) {
  stub_.on_send("/app/*", by_header);
  ASSERT_TRUE(load());
  run([&] {
    Client c(port_);
    ASSERT_TRUE(c.send(get("/api/app/one")));
    std::optional<Reply> a = c.read_response();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "ok /app/one\n");
    ASSERT_TRUE(c.send(get("/api/app/two", "Connection: close\r\n")));
    std::optional<Reply> b = c.read_response();
    ASSERT_TRUE(b);
    EXPECT_EQ(b->body, "ok /app/two\n");
    EXPECT_EQ(b->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_peer());
  });
  EXPECT_EQ(stub_.sent().size(), 2u);
}

TEST_F(WebTest, PipelinedRequestsAreAnsweredInOrder) {
  stub_.on_send("/app/*", by_header);
  ASSERT_TRUE(load());
  run([&] {
    Client c(port_);
    ASSERT_TRUE(c.send(get("/api/app/first?s=202") + get("/api/app/second") + get("/api/app/third?s=410")));
    for (auto [path, code] : {std::pair{"first", 202}, std::pair{"second", 200}, std::pair{"third", 410}}) {
      std::optional<Reply> r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, code);
      EXPECT_EQ(r->body, std::string("ok /app/") + path + "\n");
    }
  });
}

TEST_F(WebTest, ChunkedUploadAndLargeBodyRoundTrip) {
  stub_.on_send("/echo/*", [](const Message& m) { return respond(200, m.body); });
  ASSERT_TRUE(load());
  std::optional<Reply> r = fetch(
      "POST /api/echo/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello, world");

  std::string big(16u << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7) % 26);
  r = run([&] {
    Client c(port_);
    c.send("PUT /api/echo/big HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n");
    c.send(big);
    return c.read_response();
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), big.size());
  EXPECT_TRUE(r->body == big);
}

TEST_F(WebTest, ExpectContinueIsAnswered) {
  stub_.on_send("/echo/*", [](const Message& m) { return respond(200, m.body); });
  ASSERT_TRUE(load());
  std::optional<Reply> r = run([&] {
    Client c(port_);
    c.send("POST /api/echo/x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    std::optional<Reply> cont = c.read_response();
    EXPECT_TRUE(cont && cont->status == 100);
    c.send("body");
    return c.read_response();
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "body");
}

TEST_F(WebTest, LimitsAnswerWithClearErrors) {
  stub_.set_config("max_body", "1000");
  stub_.set_config("max_uri", "200");
  stub_.set_config("max_header", "1024");
  stub_.on_send("/app/*", by_header);
  ASSERT_TRUE(load());
  std::optional<Reply> r =
      fetch("POST /api/app/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n" + std::string(2000, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->reason, "Content Too Large");
  r = fetch("POST /api/app/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" "7d0\r\n" +
            std::string(2000, 'x') + "\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << "chunked bodies are limited too";
  r = fetch(get("/api/app/" + std::string(300, 'u')));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 414);
  r = fetch(get("/api/app/" + std::string(1500, 'u')));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 414) << "a request line beyond max_header is still a long URI";
  r = fetch(get("/api/app/x", "X-Big: " + std::string(1500, 'h') + "\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  r = fetch("this is not http\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("connection"), "close");
  r = fetch("BREW /api/app/pot HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_NE(r->body.find("BREW"), std::string::npos);
  EXPECT_NE(r->header("allow").find("GET"), std::string::npos);
  EXPECT_TRUE(stub_.sent().empty()) << "nothing reached the router";
}

TEST_F(WebTest, BadPathsAndPathsOutsideThePrefix) {
  stub_.on_send("*", by_header);
  ASSERT_TRUE(load());
  for (const char* t : {"/api/a/../b", "/api/a/%2e%2e/b", "/api/a%00b", "/api/%ff"}) {
    std::optional<Reply> r = fetch(get(t));
    ASSERT_TRUE(r) << t;
    EXPECT_EQ(r->status, 400) << t;
  }
  std::optional<Reply> r = fetch(get("/index.html"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(stub_.sent().empty());
}

TEST_F(WebTest, IndexIsBuiltFromCorePaths) {
  stub_.on_send("/core/paths", [](const Message&) {
    return respond(200, "Registered paths:\n  /hello/resources/greeting                \xe2\x86\x92 hello\n");
  });
  ASSERT_TRUE(load());
  for (const char* t : {"/api", "/api/"}) {
    std::optional<Reply> r = fetch(get(t, "Authorization: Bearer t1\r\n"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("REST API\n"), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("  [hello]\n    GET /api/hello/resources/greeting"), std::string::npos) << r->body;
  }
  EXPECT_EQ(stub_.sent().at(0).ctx.credentials.token, "t1") << "the index lists what the client may see";
}

TEST_F(WebTest, CorsWhenConfigured) {
  stub_.set_config("cors_origin", "*");
  stub_.on_send("*", by_header);
  ASSERT_TRUE(load());
  std::optional<Reply> r = fetch("OPTIONS /api/app/x HTTP/1.1\r\nHost: t\r\nOrigin: http://a\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("access-control-allow-origin"), "*");
  EXPECT_NE(r->header("access-control-allow-methods").find("PUT"), std::string::npos);
  r = fetch(get("/api/app/x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("access-control-allow-origin"), "*");
}

TEST_F(WebTest, HeaderTimeoutClosesASlowClient) {
  stub_.set_config("header_timeout_ms", "200");
  ASSERT_TRUE(load());
  const Clock::time_point start = Clock::now();
  const bool closed = run([&] {
    Client c(port_);
    c.send("GET /api/app/x HTTP/1.1\r\nHost: t\r\n");  // never finishes its header
    return c.closed_by_peer();
  });
  EXPECT_TRUE(closed);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(kClientTimeoutSeconds));
  EXPECT_TRUE(pump_until([&] { return status().find("Connections: 0\n") != std::string::npos; }));
}

TEST_F(WebTest, StatusPathAndBadConfig) {
  ASSERT_TRUE(load());
  const std::string s = status();
  EXPECT_EQ(s.rfind("HTTP REST API Gateway\nPort: " + std::to_string(port_) + "\nPrefix: /api\nStatus: listening\n", 0),
            0u)
      << s;
  EXPECT_NE(s.find("Connections: 0\n"), std::string::npos);
  EXPECT_EQ(s.find("TLS port"), std::string::npos);
  ASSERT_TRUE(stub_.unload());

  testing::StubRouter other;
  other.set_config("port", "http");
  Status st = other.load_library(MOD_WEB_PATH);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  EXPECT_NE(st.error().message.find("port"), std::string::npos);
}

TEST_F(WebTest, IdleKeepAliveConnectionIsClosed) {
  stub_.set_config("idle_timeout_ms", "200");
  stub_.on_send("*", by_header);
  ASSERT_TRUE(load());
  EXPECT_TRUE(run([&] {
    Client c(port_);
    c.send(get("/api/app/x"));
    std::optional<Reply> r = c.read_response();
    return r && r->status == 200 && c.closed_by_peer();
  }));
}

TEST_F(WebTest, MaxConnectionsRefusesTheNextClient) {
  stub_.set_config("max_connections", "1");
  stub_.on_send("*", by_header);
  ASSERT_TRUE(load());
  Client first(port_);
  ASSERT_TRUE(pump_until([&] { return status().find("Connections: 1\n") != std::string::npos; }));
  EXPECT_TRUE(run([&] {
    Client second(port_);
    second.send(get("/api/app/x"));
    return second.closed_by_peer();
  }));
  std::optional<Reply> r = run([&] {
    first.send(get("/api/app/x"));
    return first.read_response();
  });
  ASSERT_TRUE(r) << "the first client is still served";
  EXPECT_EQ(r->status, 200);
}

TEST_F(WebTest, UnloadClosesOpenConnections) {
  ASSERT_TRUE(load());
  Client idle(port_);
  Client stream(port_);
  ASSERT_TRUE(run([&] {
    stream.send("GET /api/events/a/* HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
    return stream.read_until("\r\n\r\n").has_value();
  }));
  ASSERT_EQ(stub_.subscriptions().size(), 1u);
  ASSERT_TRUE(stub_.unload());
  EXPECT_TRUE(stub_.leftovers().empty()) << "the event subscription was ended by the module";
  EXPECT_TRUE(run([&] { return idle.closed_by_peer() && stream.closed_by_peer(); }));
}

}  // namespace
}  // namespace portal::web::test

// HTTP and HTTPS through a real instance: portald, the router, the web worker and the
// modules behind it, reached by a real client over loopback (issue 4, COMPAT.md 3.1).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "../../modules/web/tests/test_client.h"
#include "cert_dir.h"
#include "instance.h"

namespace portal::itest {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using web::test::Client;
using web::test::Reply;
using web::test::TlsClient;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    for (int s : {18, 12, 6, 0}) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    for (int s : {18, 12, 6}) out += kAlphabet[(v >> s) & 63];
    out += "=";
  }
  return out;
}

class Web : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = make_cert_dir("portal-itest");
    ASSERT_FALSE(certs_.empty());
    inst_ = new Instance({{"hello", {}},
                          {"myapp", {}},
                          {"crashy", {}},
                          {"web",
                           {{"port", "0"},
                            {"tls_port", "auto"},
                            {"cert_file", certs_ + "/server.crt"},
                            {"key_file", certs_ + "/server.key"},
                            {"header_timeout_ms", "1500"}}}});
    ASSERT_TRUE(inst_->start()) << inst_->log();
    auto status = inst_->get("/web/resources/status");
    ASSERT_TRUE(status && status->status == 200);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(status->body, m, std::regex("Port: ([0-9]+)\n"))) << status->body;
    port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
    ASSERT_TRUE(std::regex_search(status->body, m, std::regex("TLS port: ([0-9]+)\n"))) << status->body;
    tls_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
    auto r = inst_->admin(Method::set, "/users/webuser", {{"password", "web-pw"}, {"groups", "staff"}});
    ASSERT_TRUE(r && r->status == 201);
  }
  static void TearDownTestSuite() {
    delete inst_;
    inst_ = nullptr;
    fs::remove_all(certs_);
  }

  // One request on a fresh connection.
  static Reply http(const std::string& method, const std::string& target, const std::string& headers = {},
                    const std::string& body = {}) {
    Client c(port_);
    EXPECT_TRUE(c.connected());
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers;
    if (!body.empty() || method == "POST" || method == "PUT") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    c.send(req);
    auto r = c.read_response(method == "HEAD");
    return r ? *r : Reply{};
  }

  static Instance* inst_;
  static std::string certs_;
  static std::uint16_t port_, tls_port_;
};
Instance* Web::inst_ = nullptr;
std::string Web::certs_;
std::uint16_t Web::port_ = 0, Web::tls_port_ = 0;

TEST_F(Web, MethodMappingAndStatusPassThrough) {
  Reply r = http("GET", "/api/hello/resources/greeting");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Hello from Portal!\n");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  r = http("GET", "/api/nothing/here");
  EXPECT_EQ(r.status, 404);
  std::string root = std::string("X-API-Key: ") + kRootKey + "\r\n";
  r = http("POST", "/api/users/httpuser?password=p1&groups=staff", root);
  EXPECT_EQ(r.status, 201) << r.body;
  r = http("POST", "/api/users/httpuser?groups=staff,ops", root);
  EXPECT_EQ(r.status, 200) << r.body;
  r = http("PUT", "/api/core/modules/hello?action=nonsense", root);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Unknown action: nonsense\n");
  r = http("DELETE", "/api/users/httpuser", root);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "User 'httpuser' deleted\n");
  r = http("POST", "/api/core/locks/lock?resource=r1&owner=a");
  EXPECT_EQ(r.status, 200);
  r = http("POST", "/api/core/locks/lock?resource=r1&owner=b");
  EXPECT_EQ(r.status, 409) << "409 passes through (the original sent 500)";
  r = http("GET", "/api/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("REST API"), std::string::npos) << r.body;
}

TEST_F(Web, AllFiveCredentialFormsAndTheAcl) {
  const std::string who = "/api/auth/whoami";
  EXPECT_EQ(http("GET", who).body, "anonymous (not logged in)\n");
  EXPECT_EQ(http("GET", who, std::string("X-API-Key: ") + kRootKey + "\r\n").body, "User: root\nLabels: root, admin\n");
  EXPECT_EQ(http("GET", who + "?api_key=" + kRootKey).body, "User: root\nLabels: root, admin\n");
  EXPECT_EQ(http("GET", who, std::string("Authorization: Bearer ") + kRootKey + "\r\n").body,
            "User: root\nLabels: root, admin\n");
  Reply login = http("POST", "/api/auth/login?username=webuser&password=web-pw");
  ASSERT_EQ(login.status, 200) << login.body;
  std::string token = login.body.substr(0, 64);
  EXPECT_EQ(http("GET", who, "Authorization: Bearer " + token + "\r\n").body, "User: webuser\nLabels: staff\n");
  EXPECT_EQ(http("GET", who, "X-Auth-Token: " + token + "\r\n").body, "User: webuser\nLabels: staff\n");
  EXPECT_EQ(http("GET", who, "Authorization: Basic " + base64("webuser:web-pw") + "\r\n").body,
            "User: webuser\nLabels: staff\n");
  // 401 for wrong credentials, 403 for a labelled path, 200 for the admin.
  EXPECT_EQ(http("GET", who, "Authorization: Basic " + base64("webuser:nope") + "\r\n").status, 401);
  EXPECT_EQ(http("GET", who, "X-API-Key: " + std::string(64, 'f') + "\r\n").status, 401);
  EXPECT_EQ(http("PUT", "/api/myapp/functions/reset").status, 403);
  EXPECT_EQ(http("PUT", "/api/myapp/functions/reset", "X-Auth-Token: " + token + "\r\n").status, 403);
  EXPECT_EQ(http("PUT", "/api/myapp/functions/reset", std::string("X-API-Key: ") + kRootKey + "\r\n").status, 200);
  EXPECT_EQ(inst_->log().find(kRootKey), std::string::npos) << "keys never reach the log";
}

TEST_F(Web, JsonModeKeepAlivePipeliningChunkedAnd16MiB) {
  Reply r = http("GET", "/api/hello/resources/greeting", "Accept: application/json\r\n");
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(r.body, "{\"status\":200,\"body\":\"Hello from Portal!\\n\"}");
  {
    Client c(port_);
    c.send("GET /api/hello/resources/greeting HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /api/core/status HTTP/1.1\r\nHost: x\r\n\r\n");
    auto a = c.read_response();
    auto b = c.read_response();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->body, "Hello from Portal!\n");
    EXPECT_EQ(b->body.rfind("Portal v", 0), 0u);
    c.send("POST /api/crashy/functions/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    auto echo = c.read_response();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->body, "hello world");
  }
  std::string big(16u << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  Client c(port_);
  c.send("POST /api/crashy/functions/echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(big.size()) +
         "\r\n\r\n");
  c.send(big);
  auto echo = c.read_response();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 200);
  EXPECT_TRUE(echo->body == big) << echo->body.size();
}

TEST_F(Web, ServerSentEventsDeliverAnEmittedEvent) {
  Client c(port_);
  c.send("GET /api/events/crashy/* HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
  auto head = c.read_until("\r\n\r\n");
  ASSERT_TRUE(head) << "no answer to the subscription";
  EXPECT_NE(head->find("200"), std::string::npos) << *head;
  EXPECT_NE(head->find("text/event-stream"), std::string::npos) << *head;
  auto r = inst_->call("/crashy/functions/emit", {{"path", "/events/crashy/ping"}}, "pong");
  ASSERT_TRUE(r && r->status == 200);
  auto event = c.read_until("\n\n");
  ASSERT_TRUE(event);
  EXPECT_NE(event->find("event: /events/crashy/ping\n"), std::string::npos) << *event;
  EXPECT_NE(event->find("data: pong\n"), std::string::npos) << *event;
  // A labelled event is refused to anonymous subscribers with an ordinary answer.
  Reply denied = http("GET", "/api/events/crashy/secret", "Accept: text/event-stream\r\n");
  EXPECT_EQ(denied.status, 403);
}

TEST_F(Web, HttpsHandshakeAndTls11Refused) {
  TlsClient c(tls_port_);
  ASSERT_TRUE(c.handshake_ok());
  c.send("GET /api/core/status HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  TlsClient old(tls_port_, TLS1_1_VERSION);
  EXPECT_FALSE(old.handshake_ok());
}

TEST_F(Web, BadInputGetsTheRight4xxAndTheServerKeepsServing) {
  auto raw = [&](const std::string& bytes) {
    Client c(port_);
    c.send(bytes);
    auto r = c.read_response();
    return r ? r->status : 0;
  };
  EXPECT_EQ(raw("THIS IS NOT HTTP\r\n\r\n"), 400);
  EXPECT_EQ(raw("GET /api/core/status HTTP/1.1\r\nX-Big: " + std::string(100 * 1024, 'h') + "\r\n\r\n"), 431);
  EXPECT_EQ(raw("GET /api/" + std::string(1 << 20, 'u') + " HTTP/1.1\r\n\r\n"), 414);
  EXPECT_EQ(raw("POST /api/crashy/functions/echo HTTP/1.1\r\nContent-Length: " + std::to_string(17u << 20) + "\r\n\r\n"),
            413);
  EXPECT_EQ(http("GET", "/api/hello/../core/status").status, 400);
  EXPECT_EQ(http("GET", "/api/hello/%2e%2e/core/status").status, 400);
  EXPECT_EQ(http("GET", "/api/hello%00/x").status, 400);
  EXPECT_EQ(http("GET", "/api/hello/%ff%fe").status, 400);
  EXPECT_EQ(raw("BREW /api/core/status HTTP/1.1\r\n\r\n"), 405);
  EXPECT_EQ(http("GET", "/api/core/status").status, 200);
}

TEST_F(Web, SlowClientsAreClosedAndOthersKeepBeingServed) {
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<Client>(port_));
    slow.back()->send("GET /api/core/status HTTP/1.1\r\n");
  }
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    for (auto& s : slow) s->send("X");  // a header byte at a time, never finishing
    EXPECT_EQ(http("GET", "/api/hello/resources/greeting").status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  int closed = 0;
  for (auto& s : slow)
    if (s->closed_by_peer()) ++closed;
  EXPECT_EQ(closed, 40) << "header_timeout_ms closes every slow client";
}

}  // namespace
}  // namespace portal::itest

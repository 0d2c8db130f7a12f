// HTTPS: a self-signed certificate made here with the OpenSSL API, TLS 1.2+ only.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "web_fixture.h"

namespace portal::web::test {
namespace {

namespace fs = std::filesystem;

// Writes key.pem and cert.pem (CN=localhost, valid one day) into `dir`.
bool make_self_signed(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  bool ok = key && cert;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    const auto* cn = reinterpret_cast<const unsigned char*>("localhost");
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0);
    X509_set_issuer_name(cert, name);
    ok = X509_sign(cert, key, EVP_sha256()) > 0;
  }
  if (ok) {
    FILE* kf = std::fopen((dir + "/key.pem").c_str(), "w");
    FILE* cf = std::fopen((dir + "/cert.pem").c_str(), "w");
    ok = kf && cf && PEM_write_PrivateKey(kf, key, nullptr, nullptr, 0, nullptr, nullptr) == 1 &&
         PEM_write_X509(cf, cert) == 1;
    if (kf) std::fclose(kf);
    if (cf) std::fclose(cf);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

class WebTlsTest : public WebTest {
 protected:
  void SetUp() override {
    WebTest::SetUp();
    char tmpl[] = "/tmp/portal-web-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(make_self_signed(dir_));
    stub_.set_config("tls_port", "auto");
    stub_.set_config("cert_file", dir_ + "/cert.pem");
    stub_.set_config("key_file", dir_ + "/key.pem");
  }
  void TearDown() override {
    WebTest::TearDown();
    fs::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(WebTlsTest, ServesHttpsWithTls12OrLater) {
  stub_.on_send("/app/*", [](const Message& m) { return respond(202, "secure " + m.path + " " + m.body + "\n"); });
  ASSERT_TRUE(load());
  const std::uint16_t tls_port = port_from("TLS port: ");
  ASSERT_NE(tls_port, 0);
  ASSERT_NE(tls_port, port_);
  run([&] {
    TlsClient c(tls_port);
    ASSERT_TRUE(c.handshake_ok());
    EXPECT_TRUE(c.protocol() == "TLSv1.2" || c.protocol() == "TLSv1.3") << c.protocol();
    for (int i = 0; i < 2; ++i) {  // keep-alive over TLS
      ASSERT_TRUE(c.send("POST /api/app/s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer tk\r\n"
                         "Content-Length: 2\r\n\r\nhi"));
      std::optional<Reply> r = c.read_response();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 202);
      EXPECT_EQ(r->body, "secure /app/s hi\n");
    }
  });
  ASSERT_EQ(stub_.sent().size(), 2u);
  EXPECT_EQ(stub_.sent()[0].ctx.credentials.token, "tk");
  EXPECT_EQ(stub_.sent()[0].method, Method::set);

  std::optional<Reply> plain = fetch("GET /api/app/p HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(plain) << "plain HTTP keeps working next to HTTPS";
  EXPECT_EQ(plain->status, 202);
}

TEST_F(WebTlsTest, EventStreamOverTls) {
  ASSERT_TRUE(load());
  const std::uint16_t tls_port = port_from("TLS port: ");
  std::unique_ptr<TlsClient> client;  // the handshake needs the event loop: made in run()
  ASSERT_TRUE(run([&] {
    client = std::make_unique<TlsClient>(tls_port);
    TlsClient& c = *client;
    if (!c.handshake_ok()) return false;
    c.send("GET /api/events/app/* HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
    return c.read_until("\r\n\r\n").has_value();
  }));
  EXPECT_EQ(stub_.deliver_event("/events/app/e", "payload"), 1u);
  std::optional<std::string> ev = run([&] { return client->read_until("\n\n"); });
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->find("event: /events/app/e\ndata: payload\n\n"), std::string::npos) << *ev;
  client->close();
  EXPECT_TRUE(pump_until([&] { return stub_.subscriptions().empty(); }));
}

TEST_F(WebTlsTest, RefusesTls10And11) {
  ASSERT_TRUE(load());
  const std::uint16_t tls_port = port_from("TLS port: ");
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    const bool ok = run([&] { return TlsClient(tls_port, version).handshake_ok(); });
    EXPECT_FALSE(ok) << "TLS version " << std::hex << version;
  }
  EXPECT_TRUE(run([&] { return TlsClient(tls_port, TLS1_2_VERSION).handshake_ok(); }));
}

TEST_F(WebTlsTest, PlainHttpOnTheTlsPortIsDropped) {
  ASSERT_TRUE(load());
  const std::uint16_t tls_port = port_from("TLS port: ");
  EXPECT_TRUE(run([&] {
    Client c(tls_port);
    c.send("GET /api/x HTTP/1.1\r\nHost: t\r\n\r\n");
    return c.closed_by_peer();
  }));
}

TEST_F(WebTlsTest, HandshakeTimesOut) {
  stub_.set_config("header_timeout_ms", "200");
  ASSERT_TRUE(load());
  const std::uint16_t tls_port = port_from("TLS port: ");
  EXPECT_TRUE(run([&] {
    Client c(tls_port);  // connects, never says hello
    return c.closed_by_peer();
  }));
}

TEST_F(WebTlsTest, UnreadableCertificateIsAFatalConfigError) {
  stub_.set_config("cert_file", dir_ + "/missing.pem");
  Status st = stub_.load_library(MOD_WEB_PATH);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  EXPECT_NE(st.error().message.find("missing.pem"), std::string::npos) << st.error().message;

  std::ofstream(dir_ + "/garbage.pem") << "not a key\n";
  testing::StubRouter other;
  other.set_config("port", "0");
  other.set_config("tls_port", "auto");
  other.set_config("cert_file", dir_ + "/cert.pem");
  other.set_config("key_file", dir_ + "/garbage.pem");
  st = other.load_library(MOD_WEB_PATH);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, kFatalConfig);
  EXPECT_NE(st.error().message.find("garbage.pem"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace portal::web::test

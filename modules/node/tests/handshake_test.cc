// Key derivation, proofs and comparisons, with known answers computed outside OpenSSL
// (Python's hmac/hashlib) so the wire format in docs/PROTOCOL.md §11 is pinned.
#include <gtest/gtest.h>

#include "handshake.h"

namespace portal::node {
namespace {

std::string hex(const std::array<std::uint8_t, 32>& a) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : a) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

std::string range_bytes(int from) {
  std::string s;
  for (int i = 0; i < 32; ++i) s.push_back(static_cast<char>(from + i));
  return s;
}

struct Fields {
  std::string client_nonce = range_bytes(0);
  std::string server_nonce = range_bytes(32);
  std::string client_name = "office";
  std::string server_name = "factory";
  std::string exporter = std::string(32, '\x55');
  Transcript transcript() const { return {client_nonce, server_nonce, client_name, server_name, exporter}; }
};

Key kat_key() { return *derive_key(std::string(32, 'k')); }

TEST(HandshakeTest, ShortFederationKeyIsRefused) {
  auto k = derive_key(std::string(31, 'k'));
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().message, "federation_key must be at least 32 bytes");
  EXPECT_FALSE(derive_key(""));
}

TEST(HandshakeTest, DeriveKeyKnownAnswer) {
  auto k = derive_key(std::string(32, 'k'));
  ASSERT_TRUE(k);
  EXPECT_EQ(hex(*k), "25a9ae2b70aa82d9621a9d070004a4f24d3f6786638cbb608200d4c129e758a4");
}

TEST(HandshakeTest, DeriveKeyIsDeterministicAndDiffersPerKey) {
  const std::string a(40, 'a');
  std::string b = a;
  b.back() = 'b';
  EXPECT_EQ(*derive_key(a), *derive_key(a));
  EXPECT_NE(*derive_key(a), *derive_key(b));
  EXPECT_NE(*derive_key(a), *derive_key(a + "x"));
}

TEST(HandshakeTest, ProofKnownAnswers) {
  const Fields f;
  EXPECT_EQ(hex(proof(kat_key(), Role::client, f.transcript())),
            "8f5272b5ff6ca16b053e223e811b6d45162009aa94f17b7b5396a19cd216eaa9");
  EXPECT_EQ(hex(proof(kat_key(), Role::server, f.transcript())),
            "c5b6ea24a60a07f8b520dd24e3c62ecd421bc52442732f8fd462b2eee576847d");
}

TEST(HandshakeTest, RoleMatters) {
  const Fields f;
  EXPECT_NE(proof(kat_key(), Role::client, f.transcript()), proof(kat_key(), Role::server, f.transcript()));
}

TEST(HandshakeTest, EveryFieldMatters) {
  const Fields base;
  const Proof p = proof(kat_key(), Role::client, base.transcript());
  std::vector<Fields> changed(5, base);
  changed[0].client_nonce[31] ^= 1;
  changed[1].server_nonce[0] ^= 1;
  changed[2].client_name = "office2";
  changed[3].server_name = "factorx";
  changed[4].exporter[7] ^= 1;
  for (std::size_t i = 0; i < changed.size(); ++i)
    EXPECT_NE(proof(kat_key(), Role::client, changed[i].transcript()), p) << "field " << i;
  EXPECT_NE(proof(Key{}, Role::client, base.transcript()), p);
}

TEST(HandshakeTest, LengthPrefixesSeparateTheFields) {
  // "ab" + "c" and "a" + "bc" must not give the same proof.
  Fields x, y;
  x.client_name = "ab";
  x.server_name = "c";
  y.client_name = "a";
  y.server_name = "bc";
  EXPECT_NE(proof(kat_key(), Role::client, x.transcript()), proof(kat_key(), Role::client, y.transcript()));
}

TEST(HandshakeTest, EqualCt) {
  EXPECT_TRUE(equal_ct("", ""));
  EXPECT_TRUE(equal_ct(std::string(32, 'a'), std::string(32, 'a')));
  std::string other(32, 'a');
  other.back() = 'b';
  EXPECT_FALSE(equal_ct(std::string(32, 'a'), other));
  EXPECT_FALSE(equal_ct(std::string(32, 'a'), std::string(31, 'a')));
  EXPECT_FALSE(equal_ct("", "a"));
}

TEST(HandshakeTest, NoncesAreFresh) { EXPECT_NE(random_nonce(), random_nonce()); }

TEST(HandshakeTest, NodeNames) {
  EXPECT_TRUE(valid_node_name("factory-1.eu_west"));
  EXPECT_TRUE(valid_node_name(std::string(64, 'n')));
  EXPECT_FALSE(valid_node_name(""));
  EXPECT_FALSE(valid_node_name(std::string(65, 'n')));
  EXPECT_FALSE(valid_node_name("a b"));
  EXPECT_FALSE(valid_node_name("a/b"));
  EXPECT_FALSE(valid_node_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_node_name("n\xc3\xa9"));
}

TEST(HandshakeTest, NoExporterWithoutASession) { EXPECT_EQ(tls_exporter(nullptr), ""); }

}  // namespace
}  // namespace portal::node

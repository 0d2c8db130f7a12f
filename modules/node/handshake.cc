#include "handshake.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <memory>

namespace portal::node {

namespace {

constexpr char kSalt[] = "portal federation v2";
constexpr char kInfo[] = "link authentication";
constexpr char kExporterLabel[] = "EXPORTER-Channel-Binding";
constexpr std::size_t kExporterSize = 32;

struct KdfFree {
  void operator()(EVP_KDF* p) const { EVP_KDF_free(p); }
  void operator()(EVP_KDF_CTX* p) const { EVP_KDF_CTX_free(p); }
};

OSSL_PARAM octets(const char* name, const void* data, std::size_t size) {
  return OSSL_PARAM_construct_octet_string(name, const_cast<void*>(data), size);
}

void append_field(std::string& out, std::string_view field) {
  // Every field is short (names at most 64 bytes, nonces and the exporter 32); the link
  // checks the names before it computes a proof.
  const auto n = static_cast<std::uint16_t>(field.size());
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(field);
}

}  // namespace

Result<Key> derive_key(std::string_view federation_key) {
  if (federation_key.size() < kMinFederationKeySize)
    return make_error(kFatalConfig, "federation_key must be at least " + std::to_string(kMinFederationKeySize) + " bytes");
  std::unique_ptr<EVP_KDF, KdfFree> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  std::unique_ptr<EVP_KDF_CTX, KdfFree> ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return make_error(500, "HKDF is not available in this OpenSSL");
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      octets(OSSL_KDF_PARAM_KEY, federation_key.data(), federation_key.size()),
      octets(OSSL_KDF_PARAM_SALT, kSalt, sizeof kSalt - 1),
      octets(OSSL_KDF_PARAM_INFO, kInfo, sizeof kInfo - 1),
      OSSL_PARAM_construct_end(),
  };
  Key key{};
  if (EVP_KDF_derive(ctx.get(), key.data(), key.size(), params) != 1)
    return make_error(500, "HKDF key derivation failed (OpenSSL)");
  return key;
}

Nonce random_nonce() {
  Nonce n{};
  // Without a working CSPRNG no nonce can be trusted, and a predictable one would let an
  // old answer be replayed: there is no safe way to carry on.
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) std::abort();
  return n;
}

Proof proof(const Key& key, Role role, const Transcript& t) {
  std::string msg;
  msg.reserve(1 + 5 * 2 + t.client_nonce.size() + t.server_nonce.size() + t.client_name.size() +
              t.server_name.size() + t.exporter.size());
  msg.push_back(static_cast<char>(role));
  for (std::string_view field : {t.client_nonce, t.server_nonce, t.client_name, t.server_name, t.exporter})
    append_field(msg, field);
  Proof out{};
  unsigned int len = 0;
  // HMAC-SHA256 with a 32-byte key cannot fail short of memory exhaustion; a zero proof
  // then matches nothing a peer with the key computes.
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
            msg.size(), out.data(), &len))
    out.fill(0);
  return out;
}

bool equal_ct(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string tls_exporter(SSL* ssl) {
  if (ssl == nullptr || SSL_is_init_finished(ssl) != 1) return {};
  // RFC 9266 §3: under TLS 1.2 the exporter binds the session only with the extended master
  // secret (RFC 7627); without it a man in the middle can make both sessions export alike.
  if (SSL_version(ssl) < TLS1_3_VERSION && SSL_get_extms_support(ssl) != 1) return {};
  std::string out(kExporterSize, '\0');
  if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(out.data()), out.size(), kExporterLabel,
                                 sizeof kExporterLabel - 1, nullptr, 0, 0) != 1)
    return {};
  return out;
}

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNodeName) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace portal::node

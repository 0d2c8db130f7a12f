// Link authentication (issue 6, docs/PROTOCOL.md §11): a challenge-response on the shared
// federation key, mutual and bound to the TLS session.
//
//   server -> client  AUTH_CHALLENGE {nonce_s, server name}
//   client -> server  AUTH_RESPONSE  {nonce_c, client name, client_proof}
//   server -> client  RESPONSE       {id 0, status 200, body = server_proof}   (or 401, close)
//
// Both proofs are HMAC-SHA256 under a key derived from the federation key with HKDF-SHA256,
// over the role, both nonces, both node names and the TLS exporter value (RFC 9266, label
// "EXPORTER-Channel-Binding"). The role makes a proof of one side useless as the other's
// (reflection); the nonces make an old response useless (replay); the exporter differs
// between the two TLS sessions of a man in the middle.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "portal/result.h"

namespace portal::node {

using Key = std::array<std::uint8_t, 32>;
using Nonce = std::array<std::uint8_t, 32>;
using Proof = std::array<std::uint8_t, 32>;

inline constexpr std::size_t kMinFederationKeySize = 32;
inline constexpr std::size_t kMaxNodeName = 64;

enum class Role : std::uint8_t { client = 1, server = 2 };

// HKDF-SHA256(ikm = federation key, salt "portal federation v2", info "link authentication").
// An error for a key shorter than kMinFederationKeySize bytes.
Result<Key> derive_key(std::string_view federation_key);

// 32 bytes from the OpenSSL CSPRNG.
Nonce random_nonce();

struct Transcript {
  std::string_view client_nonce;  // 32 bytes
  std::string_view server_nonce;  // 32 bytes
  std::string_view client_name;
  std::string_view server_name;
  std::string_view exporter;      // tls_exporter() of this TLS session
};

// HMAC-SHA256(key, role || each field with a u16 big-endian length prefix).
Proof proof(const Key& key, Role role, const Transcript& t);

// A node name: 1..kMaxNodeName characters of [A-Za-z0-9_.-]. Both sides of a handshake
// refuse any other name, so a name can never smuggle bytes into logs or paths.
bool valid_node_name(std::string_view name);

// Constant-time comparison; false when the sizes differ.
bool equal_ct(std::string_view a, std::string_view b);

// 32 bytes of SSL_export_keying_material(label "EXPORTER-Channel-Binding", no context);
// empty when the session cannot export (not yet handshaken).
std::string tls_exporter(SSL* ssl);

}  // namespace portal::node

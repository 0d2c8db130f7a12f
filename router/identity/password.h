// Password hashing and verification.
//
// New hashes are scrypt (OpenSSL EVP_KDF "SCRYPT") in a self-describing string:
//   $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt, base64>$<derived key, base64>
// (standard base64 alphabet, no padding). Verification also accepts the original
// Portal's `$sha256$<salt>$<hex(sha256(salt || password))>` and plain-text values from
// old files; both report needs_rehash so the caller replaces them after a good login.
//
// Hashing costs ~100 ms of CPU and 32 MiB at the production parameters: call these from
// a worker thread, never on the router's event loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::identity {

struct ScryptParams {
  unsigned log2_n = 15;  // N = 2^15
  unsigned r = 8;
  unsigned p = 1;
  friend bool operator==(const ScryptParams&, const ScryptParams&) = default;
};

// Measured on the reference machine (Debian 12, OpenSSL 3.0, 2 cores): ~97 ms and
// 128 * r * N = 32 MiB per hash.
inline constexpr ScryptParams kProductionScrypt{15, 8, 1};

// Bounds on parameters read from a stored string, so that a hostile or corrupt user
// file cannot make one login cost seconds of CPU or gigabytes of memory.
inline constexpr unsigned kMaxLog2N = 20;
inline constexpr unsigned kMaxR = 32;
inline constexpr unsigned kMaxP = 16;
inline constexpr std::uint64_t kMaxScryptMemory = 128ull << 20;  // 128 * r * N bytes
inline constexpr std::uint64_t kMaxScryptWork = 1ull << 20;      // N * r * p (production: 2^18)
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kKeyBytes = 32;

enum class StoredKind { kScrypt, kLegacySha256, kPlain, kInvalid };

// What kind of value a user record holds, judged by its prefix only. A store loading an
// old file can use this to hash plain-text values right away.
StoredKind stored_kind(std::string_view stored);

// A fresh random salt and an scrypt hash of password. Fails only if the CSPRNG or the
// KDF fails (or params are out of bounds).
Result<std::string> hash_password(std::string_view password,
                                  const ScryptParams& params = kProductionScrypt);

// A well-formed scrypt value whose key is random, so no password matches it, made without
// running the KDF. Checking a password against it costs exactly a real check: the router
// uses it for unknown users (timing does not tell them apart) and for root's placeholder.
Result<std::string> unmatchable_hash(const ScryptParams& params = kProductionScrypt);

struct Verdict {
  bool ok = false;            // the password matches
  bool needs_rehash = false;  // matches, but the stored form is legacy, plain or outdated
};

// Checks password against a stored value. Malformed or out-of-bounds stored values give
// {false, false}; nothing in stored can make this crash or run long. `current` is the
// parameter set new hashes use: a matching scrypt hash with other parameters reports
// needs_rehash.
Verdict verify_password(std::string_view stored, std::string_view password,
                        const ScryptParams& current = kProductionScrypt);

}  // namespace portal::identity

// Secret handling shared by the identity pieces: constant-time comparison, random
// tokens from the OpenSSL CSPRNG (failing closed), SHA-256, hex and base64.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "portal/result.h"

namespace portal::identity {

// Bytes of randomness behind a session token and an API key (64 hex characters each).
inline constexpr std::size_t kTokenBytes = 32;

// True when a and b are equal. The time taken depends only on the lengths, never on the
// contents, so a mismatch position cannot be measured.
bool constant_time_equal(std::string_view a, std::string_view b);

// n bytes from RAND_bytes; an error (never a weak fallback) if the CSPRNG fails.
Result<std::string> random_bytes(std::size_t n);
// 2*n lowercase hex characters encoding n random bytes.
Result<std::string> random_hex(std::size_t n);
Result<std::string> new_session_token();  // 64 lowercase hex
Result<std::string> new_api_key();        // 64 lowercase hex

// True for exactly 64 hex characters (either case), the shape of an API key.
bool looks_like_api_key(std::string_view s);

// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);

std::string to_hex(std::string_view bytes);  // lowercase
// Decodes hex of either case; nullopt on odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view hex);

// Standard base64 alphabet without '=' padding (the PHC string convention).
std::string to_base64(std::string_view bytes);
// Strict decoder: nullopt on any character outside the alphabet, on padding, or on a
// length that no encoding produces.
std::optional<std::string> from_base64(std::string_view text);

}  // namespace portal::identity

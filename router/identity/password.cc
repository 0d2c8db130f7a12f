#include "router/identity/password.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <charconv>
#include <memory>
#include <optional>

#include "router/identity/secret.h"

namespace portal::identity {

namespace {

constexpr std::string_view kScryptPrefix = "$scrypt$";
constexpr std::string_view kLegacyPrefix = "$sha256$";
constexpr std::size_t kMinSaltBytes = 8;
constexpr std::size_t kMaxSaltBytes = 64;
constexpr std::size_t kMinKeyBytes = 16;
constexpr std::size_t kMaxKeyBytes = 64;
constexpr std::size_t kMaxLegacySalt = 64;  // the original's limit

struct ScryptHash {
  ScryptParams params;
  std::string salt;
  std::string key;
};

bool params_in_bounds(const ScryptParams& p) {
  if (p.log2_n < 1 || p.log2_n > kMaxLog2N) return false;
  if (p.r < 1 || p.r > kMaxR || p.p < 1 || p.p > kMaxP) return false;
  std::uint64_t n = 1ull << p.log2_n;
  return 128ull * p.r * n <= kMaxScryptMemory && n * p.r * p.p <= kMaxScryptWork;
}

// Splits s at the first '$'; returns the head and leaves the rest in s.
std::optional<std::string_view> take_field(std::string_view& s) {
  auto pos = s.find('$');
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view head = s.substr(0, pos);
  s.remove_prefix(pos + 1);
  return head;
}

// Reads "<name>=<decimal>" (1 to 3 digits, no sign, no leading zero) from the front of s.
std::optional<unsigned> take_number(std::string_view& s, std::string_view name) {
  if (s.substr(0, name.size()) != name || s.size() <= name.size() || s[name.size()] != '=')
    return std::nullopt;
  s.remove_prefix(name.size() + 1);
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 3 || (digits > 1 && s[0] == '0')) return std::nullopt;
  unsigned value = 0;
  std::from_chars(s.data(), s.data() + digits, value);
  s.remove_prefix(digits);
  return value;
}

std::optional<ScryptParams> parse_params(std::string_view s) {
  ScryptParams p;
  auto ln = take_number(s, "ln");
  if (!ln || s.empty() || s[0] != ',') return std::nullopt;
  s.remove_prefix(1);
  auto r = take_number(s, "r");
  if (!r || s.empty() || s[0] != ',') return std::nullopt;
  s.remove_prefix(1);
  auto par = take_number(s, "p");
  if (!par || !s.empty()) return std::nullopt;
  p.log2_n = *ln;
  p.r = *r;
  p.p = *par;
  if (!params_in_bounds(p)) return std::nullopt;
  return p;
}

std::optional<ScryptHash> parse_scrypt(std::string_view stored) {
  std::string_view rest = stored.substr(kScryptPrefix.size());
  auto params_text = take_field(rest);
  auto salt_text = take_field(rest);
  if (!params_text || !salt_text) return std::nullopt;
  auto params = parse_params(*params_text);
  if (!params) return std::nullopt;
  // Length limits before decoding keep a huge field from costing anything.
  if (salt_text->size() > 2 * kMaxSaltBytes || rest.size() > 2 * kMaxKeyBytes) return std::nullopt;
  auto salt = from_base64(*salt_text);
  auto key = from_base64(rest);
  if (!salt || !key) return std::nullopt;
  if (salt->size() < kMinSaltBytes || salt->size() > kMaxSaltBytes) return std::nullopt;
  if (key->size() < kMinKeyBytes || key->size() > kMaxKeyBytes) return std::nullopt;
  return ScryptHash{*params, std::move(*salt), std::move(*key)};
}

struct KdfDeleter {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

std::optional<std::string> derive(std::string_view password, std::string_view salt,
                                  const ScryptParams& params, std::size_t key_len) {
  if (!params_in_bounds(params)) return std::nullopt;
  std::unique_ptr<EVP_KDF, KdfDeleter> kdf(EVP_KDF_fetch(nullptr, "SCRYPT", nullptr));
  if (!kdf) return std::nullopt;
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return std::nullopt;
  std::uint64_t n = 1ull << params.log2_n;
  std::uint32_t r = params.r;
  std::uint32_t p = params.p;
  // OpenSSL also needs room for its own bookkeeping beyond 128 * r * N.
  std::uint64_t maxmem = kMaxScryptMemory + (kMaxScryptMemory >> 2);
  // OSSL_PARAM wants non-const pointers; the KDF only reads them.
  std::string pw(password);
  std::string sl(salt);
  OSSL_PARAM ossl_params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pw.data(), pw.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, sl.data(), sl.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end(),
  };
  std::string out(key_len, '\0');
  int rc = EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                          ossl_params);
  OPENSSL_cleanse(pw.data(), pw.size());
  if (rc != 1) return std::nullopt;
  return out;
}

Verdict verify_scrypt(std::string_view stored, std::string_view password,
                      const ScryptParams& current) {
  auto parsed = parse_scrypt(stored);
  if (!parsed) return {};
  auto key = derive(password, parsed->salt, parsed->params, parsed->key.size());
  if (!key) return {};
  bool ok = constant_time_equal(*key, parsed->key);
  OPENSSL_cleanse(key->data(), key->size());
  if (!ok) return {};
  return {true, !(parsed->params == current) || parsed->key.size() != kKeyBytes ||
                    parsed->salt.size() < kSaltBytes};
}

Verdict verify_legacy(std::string_view stored, std::string_view password) {
  std::string_view rest = stored.substr(kLegacyPrefix.size());
  auto salt = take_field(rest);
  if (!salt || salt->size() > kMaxLegacySalt || rest.size() != 64) return {};
  auto expected = from_hex(rest);
  if (!expected) return {};
  std::string input;
  input.reserve(salt->size() + password.size());
  input.append(*salt).append(password);
  std::string digest = sha256(input);
  OPENSSL_cleanse(input.data(), input.size());
  if (!constant_time_equal(digest, *expected)) return {};
  return {true, true};
}

Verdict verify_plain(std::string_view stored, std::string_view password) {
  // Comparing digests keeps the stored password's length out of the timing too.
  if (!constant_time_equal(sha256(stored), sha256(password))) return {};
  return {true, true};
}

}  // namespace

StoredKind stored_kind(std::string_view stored) {
  if (stored.empty() || stored.find('\0') != std::string_view::npos) return StoredKind::kInvalid;
  if (stored.starts_with(kScryptPrefix)) return StoredKind::kScrypt;
  if (stored.starts_with(kLegacyPrefix)) return StoredKind::kLegacySha256;
  // Any other '$' value is a scheme we do not know; treating it as plain text would let
  // the hash string itself serve as the password.
  if (stored[0] == '$') return StoredKind::kInvalid;
  return StoredKind::kPlain;
}

namespace {

std::string format_scrypt(const ScryptParams& params, const std::string& salt, const std::string& key) {
  return std::string(kScryptPrefix) + "ln=" + std::to_string(params.log2_n) + ",r=" + std::to_string(params.r) +
         ",p=" + std::to_string(params.p) + "$" + to_base64(salt) + "$" + to_base64(key);
}

}  // namespace

Result<std::string> hash_password(std::string_view password, const ScryptParams& params) {
  if (!params_in_bounds(params)) return make_error(500, "scrypt parameters out of bounds");
  auto salt = random_bytes(kSaltBytes);
  if (!salt) return salt.error();
  auto key = derive(password, *salt, params, kKeyBytes);
  if (!key) return make_error(500, "scrypt key derivation failed");
  std::string out = format_scrypt(params, *salt, *key);
  OPENSSL_cleanse(key->data(), key->size());
  return out;
}

Result<std::string> unmatchable_hash(const ScryptParams& params) {
  if (!params_in_bounds(params)) return make_error(500, "scrypt parameters out of bounds");
  auto salt = random_bytes(kSaltBytes);
  auto key = random_bytes(kKeyBytes);
  if (!salt) return salt.error();
  if (!key) return key.error();
  return format_scrypt(params, *salt, *key);
}

Verdict verify_password(std::string_view stored, std::string_view password,
                        const ScryptParams& current) {
  switch (stored_kind(stored)) {
    case StoredKind::kScrypt: return verify_scrypt(stored, password, current);
    case StoredKind::kLegacySha256: return verify_legacy(stored, password);
    case StoredKind::kPlain: return verify_plain(stored, password);
    case StoredKind::kInvalid: break;
  }
  return {};
}

}  // namespace portal::identity

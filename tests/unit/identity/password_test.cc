#include "router/identity/password.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "router/identity/secret.h"

namespace portal::identity {
namespace {

// Cheap parameters keep the suite fast; one test below runs the production cost.
constexpr ScryptParams kCheap{10, 8, 1};

std::string legacy_hash(const std::string& salt, const std::string& password) {
  return "$sha256$" + salt + "$" + to_hex(sha256(salt + password));
}

TEST(Password, RoundTripAndWrongPassword) {
  auto h = hash_password("correct horse", kCheap);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE(h->starts_with("$scrypt$ln=10,r=8,p=1$")) << *h;
  auto good = verify_password(*h, "correct horse", kCheap);
  EXPECT_TRUE(good.ok);
  EXPECT_FALSE(good.needs_rehash);
  EXPECT_FALSE(verify_password(*h, "correct horsE", kCheap).ok);
  EXPECT_FALSE(verify_password(*h, "", kCheap).ok);
}

TEST(Password, EmptyAndBinaryPasswordsWork) {
  auto h = hash_password(std::string("a\0b", 3), kCheap);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(verify_password(*h, std::string("a\0b", 3), kCheap).ok);
  EXPECT_FALSE(verify_password(*h, "a", kCheap).ok);
  auto e = hash_password("", kCheap);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(verify_password(*e, "", kCheap).ok);
}

// The value the router checks unknown users against: well formed, never matching, not
// needing a KDF run to make, and differently random each time.
TEST(Password, UnmatchableHashNeverMatches) {
  auto a = unmatchable_hash(kCheap);
  auto b = unmatchable_hash(kCheap);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(stored_kind(*a), StoredKind::kScrypt);
  for (const char* pw : {"", "password", "root"}) EXPECT_FALSE(verify_password(*a, pw, kCheap).ok) << pw;
  EXPECT_FALSE(unmatchable_hash(ScryptParams{40, 8, 1}));
}

TEST(Password, SaltsDiffer) {
  auto a = hash_password("same", kCheap);
  auto b = hash_password("same", kCheap);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password(*a, "same", kCheap).ok);
  EXPECT_TRUE(verify_password(*b, "same", kCheap).ok);
}

TEST(Password, OtherParametersVerifyButNeedRehash) {
  auto h = hash_password("pw", ScryptParams{11, 8, 1});
  ASSERT_TRUE(h.ok());
  auto v = verify_password(*h, "pw", kCheap);
  EXPECT_TRUE(v.ok);
  EXPECT_TRUE(v.needs_rehash);
}

TEST(Password, OutOfBoundsParametersRefusedWhenHashing) {
  EXPECT_FALSE(hash_password("pw", ScryptParams{30, 8, 1}).ok());
  EXPECT_FALSE(hash_password("pw", ScryptParams{10, 0, 1}).ok());
}

TEST(Password, LegacySha256AcceptedAndNeedsRehash) {
  std::string stored = legacy_hash("s4lt", "hunter2");
  auto v = verify_password(stored, "hunter2");
  EXPECT_TRUE(v.ok);
  EXPECT_TRUE(v.needs_rehash);
  EXPECT_FALSE(verify_password(stored, "hunter3").ok);
  // Upper-case hex, as an external tool may have written it.
  std::string upper = "$sha256$s4lt$";
  for (char c : to_hex(sha256("s4lthunter2"))) upper.push_back(static_cast<char>(toupper(c)));
  EXPECT_TRUE(verify_password(upper, "hunter2").ok);
  // Empty salt is allowed by the original format.
  EXPECT_TRUE(verify_password(legacy_hash("", "x"), "x").ok);
  EXPECT_EQ(stored_kind(stored), StoredKind::kLegacySha256);
}

TEST(Password, LegacyMalformedRejected) {
  std::string digest = to_hex(sha256("saltpw"));
  EXPECT_FALSE(verify_password("$sha256$salt$" + digest.substr(1), "pw").ok);
  EXPECT_FALSE(verify_password("$sha256$salt$" + digest + "0", "pw").ok);
  EXPECT_FALSE(verify_password("$sha256$salt" + digest, "pw").ok);
  EXPECT_FALSE(verify_password("$sha256$" + std::string(65, 's') + "$" + digest, "pw").ok);
  EXPECT_FALSE(verify_password("$sha256$salt$" + std::string(64, 'g'), "pw").ok);
  EXPECT_FALSE(verify_password("$sha256$", "").ok);
}

TEST(Password, PlainTextAcceptedAndNeedsRehash) {
  auto v = verify_password("letmein", "letmein");
  EXPECT_TRUE(v.ok);
  EXPECT_TRUE(v.needs_rehash);
  EXPECT_FALSE(verify_password("letmein", "letmein ").ok);
  EXPECT_FALSE(verify_password("letmein", "").ok);
  EXPECT_EQ(stored_kind("letmein"), StoredKind::kPlain);
}

TEST(Password, EmptyOrNulStoredValueNeverMatches) {
  EXPECT_FALSE(verify_password("", "").ok);
  EXPECT_FALSE(verify_password(std::string("a\0", 2), std::string("a\0", 2)).ok);
  EXPECT_EQ(stored_kind(""), StoredKind::kInvalid);
}

TEST(Password, UnknownSchemeIsNotTreatedAsPlainText) {
  EXPECT_FALSE(verify_password("$argon2id$v=19$abc", "$argon2id$v=19$abc").ok);
  EXPECT_FALSE(verify_password("$", "$").ok);
}

TEST(Password, MalformedAndHostileScryptRejectedFast) {
  auto h = hash_password("pw", kCheap);
  ASSERT_TRUE(h.ok());
  std::string salt_and_key = h->substr(std::string("$scrypt$ln=10,r=8,p=1$").size());
  std::string salt = salt_and_key.substr(0, salt_and_key.find('$'));
  std::string key = salt_and_key.substr(salt_and_key.find('$') + 1);
  const std::string hostile[] = {
      "$scrypt$",
      "$scrypt$ln=10,r=8,p=1$",
      "$scrypt$ln=10,r=8,p=1$" + salt,
      "$scrypt$ln=10,r=8,p=1$" + salt + "$",
      "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key + "=",
      "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key.substr(1),     // key length / bits
      "$scrypt$ln=10,r=8,p=1$" + salt + "$!!" + key.substr(2),   // bad base64
      "$scrypt$ln=10,r=8,p=1$$" + key,                           // empty salt
      "$scrypt$ln=10,r=8,p=1$" + salt + "$" + key + std::string(1, '\0'),
      "$scrypt$ln=31,r=8,p=1$" + salt + "$" + key,               // 2^31 * 1 KiB
      "$scrypt$ln=64,r=8,p=1$" + salt + "$" + key,
      "$scrypt$ln=20,r=32,p=16$" + salt + "$" + key,             // each in range, product not
      "$scrypt$ln=16,r=8,p=16$" + salt + "$" + key,              // work bound
      "$scrypt$ln=99999999999,r=8,p=1$" + salt + "$" + key,
      "$scrypt$ln=-1,r=8,p=1$" + salt + "$" + key,
      "$scrypt$ln=010,r=8,p=1$" + salt + "$" + key,
      "$scrypt$ln=0,r=8,p=1$" + salt + "$" + key,
      "$scrypt$ln=10,r=0,p=1$" + salt + "$" + key,
      "$scrypt$ln=10,r=8,p=0$" + salt + "$" + key,
      "$scrypt$r=8,ln=10,p=1$" + salt + "$" + key,
      "$scrypt$ln=10,r=8,p=1,x=2$" + salt + "$" + key,
      "$scrypt$ln=10,r=8$" + salt + "$" + key,
      "$scrypt$ln=10,r=8,p=1$" + std::string(100000, 'A') + "$" + key,
      "$scrypt$ln=10,r=8,p=1$" + salt + "$" + std::string(100000, 'A'),
  };
  auto start = std::chrono::steady_clock::now();
  for (const auto& s : hostile) {
    auto v = verify_password(s, "pw", kCheap);
    EXPECT_FALSE(v.ok) << s.substr(0, 80);
    EXPECT_FALSE(v.needs_rehash);
  }
  // None of them may reach the KDF with hostile cost; all together stay far below one
  // production hash.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  // Sanity: the untouched string still verifies.
  EXPECT_TRUE(verify_password("$scrypt$ln=10,r=8,p=1$" + salt + "$" + key, "pw", kCheap).ok);
}

TEST(Password, ProductionCostIsInTheIntendedRange) {
  auto start = std::chrono::steady_clock::now();
  auto h = hash_password("production");
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE(h->starts_with("$scrypt$ln=15,r=8,p=1$")) << *h;
  auto v = verify_password(*h, "production");
  EXPECT_TRUE(v.ok);
  EXPECT_FALSE(v.needs_rehash);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  RecordProperty("scrypt_ms", static_cast<int>(ms));
  std::printf("production scrypt hash: %lld ms\n", static_cast<long long>(ms));
  // A floor only: an upper bound would flake on a loaded CI machine.
  EXPECT_GE(ms, 10);
}

}  // namespace
}  // namespace portal::identity

#include "router/events/pattern.h"

#include <gtest/gtest.h>

#include <string>

namespace portal::events {
namespace {

struct Row {
  const char* pattern;
  const char* path;
  bool match;
};

TEST(Pattern, MatchTable) {
  const Row rows[] = {
      {"/events/a/b", "/events/a/b", true},
      {"/events/a/b", "/events/a/bc", false},
      {"/events/a/b", "/events/a", false},
      {"/events/a/*", "/events/a/b", true},
      {"/events/a/*", "/events/a/b/c/d", true},
      {"/events/a/*", "/events/a/", true},
      {"/events/a/*", "/events/a", false},
      {"/events/a/*", "/events/ab/c", false},
      {"/events/*", "/events/x", true},
      {"/events/*", "/other/x", false},
      {"/*", "/anything/at/all", true},
      {"*", "/events/x", true},
      {"*", "", true},
      {"/a*", "/a*", true},  // '*' not after '/' is literal
      {"/a*", "/ab", false},
  };
  for (const auto& r : rows)
    EXPECT_EQ(pattern_matches(r.pattern, r.path), r.match) << r.pattern << " vs " << r.path;
}

TEST(Pattern, Validation) {
  EXPECT_TRUE(validate_pattern("*").ok());
  EXPECT_TRUE(validate_pattern("/events/*").ok());
  EXPECT_TRUE(validate_pattern("/x").ok());
  EXPECT_FALSE(validate_pattern("").ok());
  EXPECT_FALSE(validate_pattern("events/x").ok());
  EXPECT_FALSE(validate_pattern(std::string("/a\0b", 4)).ok());
  EXPECT_TRUE(validate_pattern("/" + std::string(1023, 'a')).ok());
  EXPECT_FALSE(validate_pattern("/" + std::string(1024, 'a')).ok());
  EXPECT_EQ(validate_pattern("rel").error().code, 400);
}

TEST(Pattern, EventPathMustBeExact) {
  EXPECT_TRUE(validate_event_path("/events/a/b").ok());
  EXPECT_FALSE(validate_event_path("/events/a/*").ok());
  EXPECT_FALSE(validate_event_path("*").ok());
  EXPECT_TRUE(is_wildcard("/x/*"));
  EXPECT_FALSE(is_wildcard("/x"));
}

}  // namespace
}  // namespace portal::events

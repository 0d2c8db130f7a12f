#include "router/events/trace.h"

#include <gtest/gtest.h>

namespace portal::events {
namespace {

TEST(Trace, RequestLine) {
  TraceRequest r{42, TraceMethod::Call, "cli", "/core/locks/lock", "alice", "body"};
  EXPECT_EQ(format_request(r, false), "→ #42 [CALL] cli → /core/locks/lock (user:alice)\n");
  TraceRequest anon{7, TraceMethod::Event, "", "/events/x", "", ""};
  EXPECT_EQ(format_request(anon, false), "→ #7 [EVT] - → /events/x (user:-)\n");
}

TEST(Trace, MethodTags) {
  EXPECT_EQ(method_tag(TraceMethod::Get), "GET");
  EXPECT_EQ(method_tag(TraceMethod::Set), "SET");
  EXPECT_EQ(method_tag(TraceMethod::Call), "CALL");
  EXPECT_EQ(method_tag(TraceMethod::Event), "EVT");
  EXPECT_EQ(method_tag(TraceMethod::Sub), "SUB");
  EXPECT_EQ(method_tag(TraceMethod::Unsub), "UNSUB");
  EXPECT_EQ(method_tag(TraceMethod::Meta), "META");
}

TEST(Trace, ResponseLine) {
  TraceResponse r{42, 404, "/nope", "Not found\n"};
  EXPECT_EQ(format_response(r, false), "← #42 [404] /nope (10 bytes)\n");
  EXPECT_EQ(format_response({1, 200, "/x", ""}, true), "← #1 [200] /x (0 bytes)\n");
}

TEST(Trace, DebugDumpShortBody) {
  const std::string body("Hi\n\0", 4);  // the request/response types hold views
  TraceResponse r{3, 200, "/x", body};
  EXPECT_EQ(format_response(r, true),
            "← #3 [200] /x (4 bytes)\n"
            "  0000  48 69 0a 00                                      Hi..\n");
}

TEST(Trace, DebugDumpTruncatesAt80) {
  std::string body(100, 'A');
  std::string expected;
  const char* offs[] = {"0000", "0010", "0020", "0030", "0040"};
  for (const char* o : offs) {
    expected += std::string("  ") + o + "  ";
    for (int i = 0; i < 16; ++i) expected += "41 ";
    expected += " " + std::string(16, 'A') + "\n";
  }
  expected += "  ... +20 bytes\n";
  EXPECT_EQ(hex_dump(body), expected);
  EXPECT_EQ(hex_dump(""), "");
  EXPECT_EQ(hex_dump(std::string(80, 'A')).find("..."), std::string::npos);
  TraceRequest rq{9, TraceMethod::Set, "m", "/p", "u", body};
  EXPECT_EQ(format_request(rq, true), "→ #9 [SET] m → /p (user:u)\n" + expected);
}

TEST(Trace, UnsafeBytesAreEscaped) {
  EXPECT_EQ(safe_text("/a\x1b[2Jb"), "/a\\x1b[2Jb");
  EXPECT_EQ(safe_text("/a\nb\x7f"), "/a\\x0ab\\x7f");
  EXPECT_EQ(safe_text("/caf\xc3\xa9"), "/caf\xc3\xa9");         // valid UTF-8 kept
  EXPECT_EQ(safe_text("/\xc2\x9b" "31m"), "/\\xc2\\x9b31m");     // C1 CSI escaped
  EXPECT_EQ(safe_text("/\xff\xc3"), "/\\xff\\xc3");             // invalid bytes
  EXPECT_EQ(safe_text("/a\\b"), "/a\\\\b");
  TraceRequest r{1, TraceMethod::Get, "m\x1b", "/p\x07", "ev\x1bil", ""};
  EXPECT_EQ(format_request(r, false), "→ #1 [GET] m\\x1b → /p\\x07 (user:ev\\x1bil)\n");
}

TEST(Trace, HubFilters) {
  TraceHub hub;
  auto all = hub.add("/", false, "cli:1");
  auto core = hub.add("/core", true, "cli:2");
  auto any = hub.add("", false, "cli:3");
  ASSERT_TRUE(all.ok() && core.ok() && any.ok());
  EXPECT_FALSE(hub.add(std::string("a\0", 2), false, "x").ok());
  TraceRequest r{5, TraceMethod::Get, "", "/core/status", "", "ab"};
  auto lines = hub.on_request(r);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].sub, *all);
  EXPECT_EQ(lines[0].text, "→ #5 [GET] - → /core/status (user:-)\n");
  EXPECT_EQ(lines[1].sub, *core);
  EXPECT_EQ(lines[1].text, "→ #5 [GET] - → /core/status (user:-)\n"
                           "  0000  61 62                                            ab\n");
  auto resp = hub.on_response({5, 200, "/myapp/x", "ok"});
  ASSERT_EQ(resp.size(), 2u);
  EXPECT_EQ(resp[1].sub, *any);
  EXPECT_TRUE(hub.remove(*all));
  EXPECT_FALSE(hub.remove(*all));
  EXPECT_EQ(hub.remove_owner("cli:2"), 1u);
  EXPECT_EQ(hub.size(), 1u);
}

}  // namespace
}  // namespace portal::events

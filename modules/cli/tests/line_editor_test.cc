// The line editor alone: bytes in, echo and actions out.
#include "line_editor.h"

#include <gtest/gtest.h>

namespace portal::cli {
namespace {

// Feeds everything; returns the lines finished, in order (a quit reads
// "<quit>", a Tab
// "<tab:text before cursor>").
std::vector<std::string> feed_all(LineEditor &e, std::string_view in, std::string *out = nullptr) {
  std::vector<std::string> actions;
  std::string sink;
  while (!in.empty()) {
    LineEditor::Step step = e.feed(in, out ? *out : sink);
    in.remove_prefix(step.consumed);
    if (!step.action) continue;
    switch (step.action->kind) {
      case EditorAction::Kind::line:
        actions.push_back(step.action->text);
        break;
      case EditorAction::Kind::quit:
        actions.push_back("<quit>");
        break;
      case EditorAction::Kind::complete:
        actions.push_back("<tab:" + step.action->text + ">");
        break;
      case EditorAction::Kind::cancel:
        actions.push_back("<cancel>");
        break;
    }
  }
  return actions;
}

TEST(LineEditor, PlainLinesWithCrLfOrCrlfCountOnce) {
  LineEditor e;
  std::string out;
  EXPECT_EQ(feed_all(e, "status\nversion\r\nhelp\rpwd\n", &out),
            (std::vector<std::string>{"status", "version", "help", "pwd"}));
  EXPECT_EQ(out, "status\nversion\nhelp\npwd\n") << "plain typing is echoed as is";
}

TEST(LineEditor, CursorKeysInsertAndDelete) {
  LineEditor e;
  EXPECT_EQ(feed_all(e, "gt\x1b[De\x1b[C /x\n"), std::vector<std::string>{"get /x"});
  EXPECT_EQ(feed_all(e, "abc\x7f\x08X\n"), std::vector<std::string>{"aX"});
  EXPECT_EQ(feed_all(e, "world\x01hello \x05!\n"), std::vector<std::string>{"hello world!"});
  EXPECT_EQ(feed_all(e, "abc\x1b[Hx\x1b[Fy\n"), std::vector<std::string>{"xabcy"});
  EXPECT_EQ(feed_all(e, "abcdef\x1b[D\x1b[D\x0b\n"), std::vector<std::string>{"abcd"});
  EXPECT_EQ(feed_all(e, "abcdef\x1b[D\x1b[D\x15\n"), std::vector<std::string>{"ef"});
  EXPECT_EQ(feed_all(e, "abc\x1b[D\x1b[3~\n"), std::vector<std::string>{"ab"});
}

TEST(LineEditor, CtrlWDeletesToSpaceOrSlash) {
  LineEditor e;
  EXPECT_EQ(feed_all(e, "get /hello/resources\x17\n"), std::vector<std::string>{"get /hello/"});
  EXPECT_EQ(feed_all(e, "get /hello/\x17\n"), std::vector<std::string>{"get /"});
  EXPECT_EQ(feed_all(e, "ls foo\x17\x17\n"), std::vector<std::string>{""});
}

TEST(LineEditor, CtrlCDropsTheLineCtrlDQuitsOnlyWhenEmpty) {
  LineEditor e;
  std::string out;
  EXPECT_EQ(feed_all(e, "junk\x03pwd\n", &out), (std::vector<std::string>{"<cancel>", "pwd"}));
  EXPECT_NE(out.find("^C\nportal:/> "), std::string::npos);
  EXPECT_EQ(feed_all(e, "ab\x01\x04\n"), std::vector<std::string>{"b"}) << "Ctrl-D deletes under the cursor";
  EXPECT_EQ(feed_all(e, "\x04"), std::vector<std::string>{"<quit>"});
}

TEST(LineEditor, HistoryUpDownSkipsLogin) {
  LineEditor e;
  feed_all(e, "status\nlogin root secret\nversion\n");
  EXPECT_EQ(e.history(), (std::deque<std::string>{"status", "version"}));
  EXPECT_EQ(feed_all(e, "\x1b[A\n"), std::vector<std::string>{"version"});
  EXPECT_EQ(feed_all(e, "\x1b[A\x1b[A\x1b[A\n"), std::vector<std::string>{"status"});
  EXPECT_EQ(feed_all(e, "par\x1b[A\x1b[B\n"), std::vector<std::string>{"par"}) << "Down restores the edited line";
  EXPECT_EQ(feed_all(e, "\x1bOA\n"), std::vector<std::string>{"par"}) << "SS3 arrows work too";
}

TEST(LineEditor, HistoryKeeps64) {
  LineEditor e;
  for (int i = 0; i < 100; ++i) feed_all(e, "cmd" + std::to_string(i) + "\n");
  ASSERT_EQ(e.history().size(), LineEditor::kHistory);
  EXPECT_EQ(e.history().front(), "cmd36");
}

TEST(LineEditor, LongLinesRingTheBellOnceAndStayBounded) {
  LineEditor e;
  std::string out;
  std::string input(64 * 1024, 'x');
  EXPECT_TRUE(feed_all(e, input, &out).empty());
  EXPECT_EQ(e.line().size(), LineEditor::kMaxLine);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\a'), 1);
  std::vector<std::string> lines = feed_all(e, "\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), LineEditor::kMaxLine);
}

TEST(LineEditor, WinsizeIsHiddenAndRemembered) {
  LineEditor e;
  EXPECT_TRUE(feed_all(e, "__winsize 40 120\n").empty());
  ASSERT_TRUE(e.window_size());
  EXPECT_EQ(e.window_size()->rows, 40);
  EXPECT_EQ(e.window_size()->cols, 120);
  EXPECT_TRUE(feed_all(e, "__winsize junk\n").empty());
  EXPECT_TRUE(e.history().empty());
}

TEST(LineEditor, TabAsksAndCompletionInserts) {
  LineEditor e;
  EXPECT_EQ(feed_all(e, "sta\t"), std::vector<std::string>{"<tab:sta>"});
  e.complete({"status"});
  EXPECT_EQ(e.line(), "status ");
  EXPECT_EQ(feed_all(e, "\n"), std::vector<std::string>{"status "});
  feed_all(e, "get hello/re");
  e.complete({"hello/resources/"});
  EXPECT_EQ(e.line(), "get hello/resources/") << "a directory gets no space";
  std::string out = e.complete({"hello/resources/greeting", "hello/resources/gone"});
  EXPECT_EQ(e.line(), "get hello/resources/g") << "several: their common prefix";
  EXPECT_NE(out.find("\ngreeting  gone  \nportal:/> get hello/resources/g"), std::string::npos) << out;
  EXPECT_EQ(e.complete({}), "\a");
}

TEST(LineEditor, SecretLinesAreNotEchoedNorRemembered) {
  LineEditor e;
  e.set_echo(false);
  std::string out;
  EXPECT_EQ(feed_all(e, "hunter2\n", &out), std::vector<std::string>{"hunter2"});
  EXPECT_EQ(out, "\n");
  EXPECT_TRUE(e.history().empty());
  e.set_echo(false);
  EXPECT_TRUE(feed_all(e, "a\tb").empty()) << "no completion of a password";
  EXPECT_EQ(feed_all(e, "\x03"), std::vector<std::string>{"<cancel>"});
  out.clear();
  feed_all(e, "x", &out);
  EXPECT_EQ(out, "x") << "echo is back for the next line";
}

}  // namespace
}  // namespace portal::cli

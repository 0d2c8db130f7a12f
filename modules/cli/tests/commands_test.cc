// The command table and the pure helpers around it.
#include "commands.h"

#include <gtest/gtest.h>

namespace portal::cli {
namespace {

TEST(Commands, WordsSplitOnSpaces) {
  EXPECT_EQ(split_words("  user   create bob  pw "), (std::vector<std::string>{"user", "create", "bob", "pw"}));
  EXPECT_TRUE(split_words("   ").empty());
}

TEST(Commands, TextAfterWordsKeepsItsSpacing) {
  EXPECT_EQ(text_after_words("set /kv/a  hello   world ", 2), "hello   world ");
  EXPECT_EQ(text_after_words("  set a b", 2), "b");
  EXPECT_EQ(text_after_words("set a", 2), "");
  EXPECT_EQ(split_lines("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_lines("a\n"), (std::vector<std::string>{"a"}));
}

TEST(Commands, LongestNameAndAliasesWin) {
  std::size_t used = 0;
  const Command *c = find_command({"key", "rotate"}, used);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "key rotate");
  EXPECT_EQ(used, 2u);
  c = find_command({"key"}, used);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "key");
  c = find_command({"?"}, used);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "help");
  c = find_command({"exit"}, used);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "quit");
  EXPECT_EQ(find_command({"user"}, used), nullptr);
  EXPECT_EQ(find_command({"frobnicate"}, used), nullptr);
}

TEST(Commands, GetTargetWithQuery) {
  Target t = parse_target("a/b?x=1&y=2&bare&=v");
  EXPECT_EQ(t.path, "a/b");
  EXPECT_TRUE(t.has_query);
  ASSERT_EQ(t.query.size(), 2u);
  EXPECT_EQ(t.query[0].key, "x");
  EXPECT_EQ(t.query[0].value, "1");
  EXPECT_EQ(t.query[1].key, "y");
  EXPECT_EQ(t.query[1].value, "2");
  t = parse_target("/core/status");
  EXPECT_EQ(t.path, "/core/status");
  EXPECT_FALSE(t.has_query);
}

TEST(Commands, PathsJoinRelativeToCwd) {
  EXPECT_EQ(join_path("/hello", "resources/greeting"), "/hello/resources/greeting");
  EXPECT_EQ(join_path("/hello", "/core/status"), "/core/status");
  EXPECT_EQ(join_path("/hello/resources", ".."), "/hello");
  EXPECT_EQ(join_path("/", ".."), "/");
  EXPECT_EQ(join_path("/a", "./b/"), "/a/b");
  EXPECT_EQ(join_path("/events", "crashy/*"), "/events/crashy/*");
}

TEST(Commands, HelpComesFromTheTable) {
  std::string help = help_text({});
  for (const Command &c : builtin_commands()) EXPECT_NE(help.find(std::string(c.name)), std::string::npos) << c.name;
  EXPECT_NE(help.find("help, ?"), std::string::npos);
  EXPECT_EQ(help_for("get", {}).rfind("Usage: get <path>[?k=v&...]", 0), 0u) << help_for("get", {});
  std::string user = help_for("user", {});
  EXPECT_NE(user.find("user create <user> <password> [groups]"), std::string::npos) << user;
  EXPECT_EQ(help_for("nope", {}), "");
  EXPECT_EQ(help_for("set", {}).rfind("Usage: set <path> <value>", 0), 0u);
  EXPECT_NE(help.find("  top "), std::string::npos);
  EXPECT_EQ(command_names("se", {}), std::vector<std::string>{"set"});
  EXPECT_EQ(command_names("to", {}), std::vector<std::string>{"top"});
}

TEST(Commands, ModuleCommandsParsedAndListed) {
  std::string listing =
      "Registered paths:\n  /kv/cli/commands                         "
      "\xe2\x86\x92 kv\n"
      "  /kv/cli/run                              \xe2\x86\x92 kv\n"
      "  /half/cli/commands                       \xe2\x86\x92 half\n";
  EXPECT_EQ(modules_with_commands(listing), std::vector<std::string>{"kv"});
  std::vector<ModuleCommand> cmds =
      parse_module_commands("kv", "kv set\t<k> <v>\tStore a value\nbroken\nkv get\t<k>\tRead\n");
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].name, "kv set");
  EXPECT_EQ(cmds[0].usage, "<k> <v>");
  EXPECT_EQ(cmds[0].summary, "Store a value");
  EXPECT_NE(help_text(cmds).find("From module kv:\n  kv set <k> <v>"), std::string::npos);
  EXPECT_EQ(command_names("k", cmds), (std::vector<std::string>{"key", "kv"}));
}

TEST(Commands, ResponsesFormatted) {
  EXPECT_EQ(format_response(respond(200, std::string("hi\0", 3))), "hi\n");
  EXPECT_EQ(format_response(respond(503)), "(unavailable)\n(status 503)\n");
  EXPECT_EQ(format_response(respond(403, "Forbidden\n")), "Forbidden\n(status 403)\n");
  std::string bin = format_response(respond(200, std::string("\x01\x02", 2)));
  EXPECT_NE(bin.find("  0000  01 02"), std::string::npos) << bin;
  EXPECT_NE(bin.find("  (2 bytes binary)\n"), std::string::npos);
}

}  // namespace
}  // namespace portal::cli

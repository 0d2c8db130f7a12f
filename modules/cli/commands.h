// The CLI's commands, defined once as data (STYLE.md 8): `help`, `help <cmd>`,
// Tab completion of command names and the README's table all come from
// kCommands. Module-registered commands (README.md "Commands from other
// modules") join the same listing at run time.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "portal/message.h"

namespace portal::cli {

class Session;

// What a handler gets: the words after the command's own words, and the whole
// line.
struct Invocation {
  std::vector<std::string> args;
  std::string line;
};

using CommandHandler = void (*)(Session &, const Invocation &);

// What Tab completes after the command's words.
enum class Completion { none, path };

struct Command {
  std::string_view name;   // one or two words: "status", "user create"
  std::string_view alias;  // another spelling of the whole name ("?" for "help"), or empty
  std::string_view args;   // usage after the name: "<user> [pass]"
  std::string_view summary;
  CommandHandler run;
  Completion completion = Completion::none;
};

// A command another module serves (GET /<m>/cli/commands, CALL /<m>/cli/run).
struct ModuleCommand {
  std::string module;
  std::string name;  // words, space-separated
  std::string usage;
  std::string summary;
};

std::span<const Command> builtin_commands();

// Words split on runs of spaces (no quoting).
std::vector<std::string> split_words(std::string_view line);

// `text` without trailing NULs, line ends and spaces (a one-line answer).
std::string trimmed(std::string text);

// Lines without their '\n' (a last line without one counts).
std::vector<std::string> split_lines(std::string_view text);

// What follows the first `n` words of `line`, spacing kept ("set a  b  c", 2 →
// "b  c"): a value typed as the rest of the line.
std::string text_after_words(std::string_view line, std::size_t n);

// The builtin command whose name the words start with (longest name wins), and
// how many of the words its name uses; nullptr when none.
const Command *find_command(const std::vector<std::string> &words, std::size_t &used);

// `get` targets: "a/b?x=1&y=2" → path "a/b", headers x=1, y=2 (pairs without
// '=' dropped, no decoding).
struct Target {
  std::string path;
  Headers query;
  bool has_query = false;
};
Target parse_target(std::string_view text);

// `target` relative to `cwd` ("/" + segments; ".." goes up one level; "."
// stays).
std::string join_path(std::string_view cwd, std::string_view target);

// Lines of a /<m>/cli/commands answer: "<words>\t<usage>\t<summary>".
std::vector<ModuleCommand> parse_module_commands(const std::string &module, std::string_view body);
// Modules that registered /<m>/cli/commands and /<m>/cli/run, from a
// /core/paths listing.
std::vector<std::string> modules_with_commands(std::string_view paths_listing);

// Help texts, generated from the tables.
std::string help_text(const std::vector<ModuleCommand> &extra);
// "" when `name` names no command (builtin or module).
std::string help_for(std::string_view name, const std::vector<ModuleCommand> &extra);
// Command names (first words) starting with `prefix`, sorted, once each.
std::vector<std::string> command_names(std::string_view prefix, const std::vector<ModuleCommand> &extra);

// A response as the CLI prints it: the body (trailing NULs stripped, a newline
// added), binary bodies as a hex dump + "  (<n> bytes binary)"; non-2xx adds
// "(status <n>)" and an empty body reads "(unavailable)".
std::string format_response(const Response &r);

}  // namespace portal::cli

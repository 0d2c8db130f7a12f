#include "commands.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>

#include "handlers.h"

namespace portal::cli {

namespace {

namespace h = handlers;
using C = Completion;

// The one table of builtin commands. Two-word names are subcommands ("user
// create").
constexpr std::array kCommands = {
    Command{"help", "?", "[command | /path | module]", "List the commands, or explain a command, a path or a module", h::help},
    Command{"status", "", "", "Instance status (/core/status)", h::status},
    Command{"version", "", "", "Portal version", h::version},
    Command{"pwd", "", "", "Print the current path", h::pwd},
    Command{"cd", "", "[path]", "Change the current path (no path: /)", h::cd, C::path},
    Command{"ls", "", "[path]", "List the children of a path", h::ls, C::path},
    Command{"get", "", "<path>[?k=v&...]", "Read a path; with a query, call it with those headers", h::get, C::path},
    Command{"set", "", "<path> <value>", "Write to a path (SET; the value is the rest of the line)", h::set, C::path},
    Command{"login", "", "<user> [password]", "Log in (asks for the password when not given)", h::login},
    Command{"logout", "", "", "End the login session", h::logout},
    Command{"whoami", "", "", "Who this session acts as", h::whoami},
    Command{"passwd", "", "<new password>", "Change your own password", h::passwd},
    Command{"key rotate", "", "", "Replace your API key", h::key_rotate},
    Command{"key", "", "", "Show your API key", h::key},
    Command{"user list", "", "", "List users", h::user_list},
    Command{"user info", "", "<user>", "Show a user", h::user_info},
    Command{"user create", "", "<user> <password> [groups]", "Create a user (groups: a,b)", h::user_create},
    Command{"user passwd", "", "<user> <password>", "Set a user's password", h::user_passwd},
    Command{"user delete", "", "<user>", "Delete a user", h::user_delete},
    Command{"group list", "", "", "List groups", h::group_list},
    Command{"group info", "", "<group>", "Show a group", h::group_info},
    Command{"group create", "", "<group> [description]", "Create a group", h::group_create},
    Command{"group adduser", "", "<group> <user>", "Add a user to a group", h::group_adduser},
    Command{"group deluser", "", "<group> <user>", "Remove a user from a group", h::group_deluser},
    Command{"module list", "", "", "List modules", h::module_list},
    Command{"module status", "", "[module]", "Status of the modules or of one", h::module_status},
    Command{"module load", "", "<module>", "Load a module", h::module_action},
    Command{"module unload", "", "<module>", "Unload a module", h::module_action},
    Command{"module reload", "", "<module>", "Reload a module", h::module_action},
    Command{"module restart", "", "<module>", "Restart a module's worker", h::module_action},
    Command{"module stop", "", "<module>", "Stop a module", h::module_action},
    Command{"module start", "", "<module>", "Start a module", h::module_action},
    Command{"path list", "", "", "List registered paths", h::path_list},
    Command{"storage", "", "", "Storage backends", h::storage},
    Command{"events", "", "", "Declared events", h::events},
    Command{"locks", "", "[prefix]", "Resource locks", h::locks},
    Command{"lock", "", "<resource>", "Lock a resource for this session", h::lock},
    Command{"unlock", "", "<resource>", "Unlock a resource of this session", h::unlock},
    Command{"subscribe", "", "<path-or-pattern>", "Print events live (/events/x/*, *)", h::subscribe, C::path},
    Command{"unsubscribe", "", "<path-or-pattern>", "Stop printing those events", h::unsubscribe, C::path},
    Command{"verbose", "", "[filter] | off", "Live trace of requests (admins)", h::verbose, C::path},
    Command{"debug", "", "[filter] | off", "Live trace with body dumps (admins)", h::debug, C::path},
    Command{"config get", "", "<module> <key>", "Read a module setting", h::config_get},
    Command{"config set", "", "<module> <key> <value>", "Change a module setting", h::config_set},
    Command{"config list", "", "[module]", "List module settings", h::config_list},
    Command{"top", "", "", "Live view of the module workers (q, ESC, Ctrl-C: leave)", h::top},
    Command{"quit", "exit", "", "Leave the CLI", h::quit},
};

bool is_binary(std::string_view body) {
  for (unsigned char c : body)
    if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) return true;
  return false;
}

std::string hex_dump(std::string_view body) {
  std::string out;
  char buf[32];
  for (std::size_t off = 0; off < body.size(); off += 16) {
    std::snprintf(buf, sizeof buf, "  %04zx ", off);
    out += buf;
    std::string ascii;
    for (std::size_t i = off; i < off + 16; ++i) {
      if (i >= body.size()) {
        out += "   ";
        continue;
      }
      const auto c = static_cast<unsigned char>(body[i]);
      std::snprintf(buf, sizeof buf, " %02x", c);
      out += buf;
      ascii += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
    }
    out += "  " + ascii + "\n";
  }
  return out;
}

std::string usage_line(std::string_view name, std::string_view args, std::string_view summary) {
  std::string left(name);
  if (!args.empty()) left += " " + std::string(args);
  if (left.size() < 34) left.resize(34, ' ');
  return "  " + left + " " + std::string(summary) + "\n";
}

}  // namespace

std::span<const Command> builtin_commands() { return kCommands; }

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) words.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return words;
}

const Command *find_command(const std::vector<std::string> &words, std::size_t &used) {
  if (words.empty()) return nullptr;
  const Command *best = nullptr;
  for (const Command &c : kCommands) {
    std::vector<std::string> name = split_words(c.name);
    bool match = name.size() <= words.size() && std::equal(name.begin(), name.end(), words.begin());
    if (!match && !c.alias.empty() && words[0] == c.alias) {
      match = true;
      name.resize(1);
    }
    if (match && (!best || name.size() > used)) {
      best = &c;
      used = name.size();
    }
  }
  return best;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\0' || text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

std::string text_after_words(std::string_view line, std::size_t n) {
  std::size_t i = 0;
  for (std::size_t word = 0; word < n; ++word) {
    while (i < line.size() && line[i] == ' ') ++i;
    while (i < line.size() && line[i] != ' ') ++i;
  }
  while (i < line.size() && line[i] == ' ') ++i;
  return std::string(line.substr(i));
}

Target parse_target(std::string_view text) {
  Target t;
  std::size_t q = text.find('?');
  t.path = std::string(text.substr(0, q));
  if (q == std::string_view::npos) return t;
  t.has_query = true;
  std::string_view rest = text.substr(q + 1);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    if (std::size_t eq = pair.find('='); eq != std::string_view::npos && eq > 0)
      t.query.push_back({std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1))});
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return t;
}

std::string join_path(std::string_view cwd, std::string_view target) {
  std::vector<std::string> parts;
  std::string joined = target.starts_with('/') ? std::string(target) : std::string(cwd) + "/" + std::string(target);
  for (std::string &seg : split_words([&] {
         std::string s = joined;
         std::replace(s.begin(), s.end(), '/', ' ');
         return s;
       }())) {
    if (seg == ".") continue;
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(seg));
  }
  std::string out;
  for (const std::string &p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::vector<ModuleCommand> parse_module_commands(const std::string &module, std::string_view body) {
  std::vector<ModuleCommand> out;
  while (!body.empty()) {
    std::size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    std::size_t t1 = line.find('\t');
    if (t1 == std::string_view::npos) continue;
    std::size_t t2 = line.find('\t', t1 + 1);
    ModuleCommand c{module,
                    {},
                    std::string(line.substr(t1 + 1, t2 == std::string_view::npos ? t2 : t2 - t1 - 1)),
                    t2 == std::string_view::npos ? std::string() : std::string(line.substr(t2 + 1))};
    for (const std::string &w : split_words(line.substr(0, t1))) c.name += (c.name.empty() ? "" : " ") + w;
    if (!c.name.empty()) out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::string> modules_with_commands(std::string_view listing) {
  std::set<std::string> commands, run;
  for (const std::string &word : split_words([&] {
         std::string s(listing);
         std::replace(s.begin(), s.end(), '\n', ' ');
         return s;
       }())) {
    if (!word.starts_with('/')) continue;
    std::size_t slash = word.find('/', 1);
    if (slash == std::string::npos) continue;
    std::string module = word.substr(1, slash - 1);
    std::string_view rest = std::string_view(word).substr(slash);
    if (rest == "/cli/commands") commands.insert(module);
    if (rest == "/cli/run") run.insert(module);
  }
  std::vector<std::string> out;
  for (const std::string &m : commands)
    if (run.contains(m) && m != "cli") out.push_back(m);
  return out;
}

std::string help_text(const std::vector<ModuleCommand> &extra) {
  std::string out = "Commands:\n";
  for (const Command &c : kCommands)
    out += usage_line(c.alias.empty() ? c.name : std::string(c.name) + ", " + std::string(c.alias), c.args, c.summary);
  std::string last_module;
  for (const ModuleCommand &c : extra) {
    if (c.module != last_module) out += "\nFrom module " + c.module + ":\n";
    last_module = c.module;
    out += usage_line(c.name, c.usage, c.summary);
  }
  return out +
         "\nPaths are relative to the current path; 'help <command>' for "
         "one command.\n";
}

std::string help_for(std::string_view name, const std::vector<ModuleCommand> &extra) {
  std::vector<std::string> words = split_words(name);
  std::string out;
  std::size_t used = 0;
  const Command *exact = find_command(words, used);
  if (exact && used == words.size()) return "Usage: " + usage_line(exact->name, exact->args, exact->summary).substr(2);
  for (const Command &c : kCommands)  // "help user": every user subcommand
    if (!words.empty() && split_words(c.name)[0] == words[0]) out += usage_line(c.name, c.args, c.summary);
  for (const ModuleCommand &c : extra)
    if (!words.empty() && split_words(c.name)[0] == words[0]) out += usage_line(c.name, c.usage, c.summary);
  return out.empty() ? out : "Usage:\n" + out;
}

std::vector<std::string> command_names(std::string_view prefix, const std::vector<ModuleCommand> &extra) {
  std::set<std::string> names;
  auto add = [&](std::string_view name) {
    std::string first = split_words(name)[0];
    if (first.starts_with(prefix)) names.insert(first);
  };
  for (const Command &c : kCommands) {
    add(c.name);
    if (!c.alias.empty()) add(c.alias);
  }
  for (const ModuleCommand &c : extra) add(c.name);
  return {names.begin(), names.end()};
}

std::string format_response(const Response &r) {
  std::string body = r.body;
  while (!body.empty() && body.back() == '\0') body.pop_back();
  std::string out;
  if (body.empty()) {
    if (!r.ok()) out = "(unavailable)\n";
  } else if (is_binary(body)) {
    out = hex_dump(body) + "  (" + std::to_string(body.size()) + " bytes binary)\n";
  } else {
    out = body.ends_with('\n') ? body : body + "\n";
  }
  if (!r.ok()) out += "(status " + std::to_string(r.status) + ")\n";
  return out;
}

}  // namespace portal::cli

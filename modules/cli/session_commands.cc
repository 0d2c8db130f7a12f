// Session: running a line (builtin, module-registered, unknown) and Tab
// completion.
#include <algorithm>
#include <memory>

#include "federation.h"
#include "session.h"

namespace portal::cli {

namespace {

const ModuleCommand *find_module_command(const std::vector<ModuleCommand> &list,
                                         const std::vector<std::string> &words) {
  const ModuleCommand *best = nullptr;
  std::size_t best_len = 0;
  for (const ModuleCommand &c : list) {
    std::vector<std::string> name = split_words(c.name);
    if (name.size() <= words.size() && std::equal(name.begin(), name.end(), words.begin()) && name.size() > best_len) {
      best = &c;
      best_len = name.size();
    }
  }
  return best;
}

// "/a/b/re" → ("/a/b", "re"); "re" → ("", "re").
std::pair<std::string, std::string> split_dir(const std::string &word) {
  std::size_t slash = word.rfind('/');
  if (slash == std::string::npos) return {"", word};
  return {word.substr(0, slash + 1), word.substr(slash + 1)};
}

}  // namespace

void Session::run_line(const std::string &line) {
  std::vector<std::string> words = split_words(line);
  if (words.empty()) return print(editor_.prompt());
  busy_ = true;
  std::size_t used = 0;
  if (const Command *c = find_command(words, used)) {
    Invocation inv{{words.begin() + static_cast<long>(used), words.end()}, line};
    return c->run(*this, inv);
  }
  if (const ModuleCommand *m = find_module_command(module_commands_, words))
    return show(Method::call, "/" + m->module + "/cli/run", {{"line", line}, {"cwd", cwd_}});
  if (std::string usage = help_for(words[0], module_commands_); !usage.empty()) {
    print(usage);  // "user" alone: its subcommands
    return done();
  }
  print("Unknown command: " + words[0] + "\nTry: get /" + words[0] + "  \xc2\xb7  help " + words[0] +
        "  \xc2\xb7  ls /" + words[0] + "\n");
  done();
}

void Session::run_completion(const std::string &before_cursor) {
  std::vector<std::string> words = split_words(before_cursor);
  const bool first_word = words.empty() || (words.size() == 1 && !before_cursor.ends_with(' '));
  if (first_word) {
    print(editor_.complete(command_names(words.empty() ? "" : words[0], module_commands_)));
    return;
  }
  std::string word(current_word(before_cursor));
  if (!before_cursor.ends_with(' ')) words.pop_back();
  std::size_t used = 0;
  const Command *c = find_command(words, used);
  if (c && c->completion == Completion::none) return print(editor_.complete({}));
  if (!c && words.size() >= 2) {  // subcommand names: "user cr" → "create"
    print(editor_.complete({}));
    return;
  }
  if (!c) {  // "user <Tab>": subcommands of a two-word command
    std::vector<std::string> subs;
    for (const Command &cmd : builtin_commands()) {
      std::vector<std::string> name = split_words(cmd.name);
      if (name.size() == 2 && name[0] == words[0] && name[1].starts_with(word)) subs.push_back(name[1]);
    }
    for (const ModuleCommand &mc : module_commands_) {
      std::vector<std::string> name = split_words(mc.name);
      if (name.size() >= 2 && name[0] == words[0] && name[1].starts_with(word)) subs.push_back(name[1]);
    }
    std::sort(subs.begin(), subs.end());
    subs.erase(std::unique(subs.begin(), subs.end()), subs.end());
    if (!subs.empty()) return print(editor_.complete(subs));
  }
  complete_path(std::move(word));
}

// Asks for the children of the typed directory (relative to cwd; a peer's
// under /node/<peer>); the input waits.
void Session::complete_path(std::string word) {
  auto [dir, stem] = split_dir(word);
  busy_ = true;
  list_path(*this, join_path(cwd_, dir.empty() ? "." : dir), [dir, stem](Session &s, const Response &r) {
    std::vector<std::string> matches;
    if (r.ok()) {
      std::string_view body = r.body;
      while (!body.empty()) {
        std::size_t nl = body.find('\n');
        std::vector<std::string> cols = split_words(body.substr(0, nl));
        body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
        if (cols.empty() || cols[0] == "(empty)") continue;
        std::string name = cols[0];  // "resources  /" (has children) or
                                     // "greeting  [hello]" (a path)
        if (cols.size() > 1 && cols[1] == "/") name += "/";
        if (name.starts_with(stem)) matches.push_back(dir + name);
      }
    }
    std::sort(matches.begin(), matches.end());
    matches.erase(std::unique(matches.begin(), matches.end()), matches.end());
    s.busy_ = false;
    s.print(s.editor_.complete(matches));
    s.process_input();
    s.read_more();
  });
}

void Session::refresh_module_commands(std::function<void(Session &)> then) {
  request(Method::get, "/core/paths", {}, [then = std::move(then)](Session &s, const Response &r) {
    std::vector<std::string> modules = r.ok() ? modules_with_commands(r.body) : std::vector<std::string>{};
    if (modules.empty()) {
      s.module_commands_.clear();
      return then(s);
    }
    struct Pending {
      std::size_t left;
      std::vector<ModuleCommand> found;
    };
    auto pending = std::make_shared<Pending>(Pending{modules.size(), {}});
    for (const std::string &m : modules)
      s.request(Method::get, "/" + m + "/cli/commands", {}, [pending, m, then](Session &s2, const Response &r2) {
        if (r2.ok())
          for (ModuleCommand &c : parse_module_commands(m, r2.body)) pending->found.push_back(std::move(c));
        if (--pending->left > 0) return;
        std::stable_sort(pending->found.begin(), pending->found.end(),
                         [](const ModuleCommand &a, const ModuleCommand &b) { return a.module < b.module; });
        s2.module_commands_ = std::move(pending->found);
        then(s2);
      });
  });
}

}  // namespace portal::cli

// The builtin commands (commands.cc holds the table). COMPAT.md 3.2 gives their
// paths and texts; every request goes through Session::request and so carries
// the session's credentials.
#include "handlers.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "federation.h"
#include "session.h"
#include "top.h"

namespace portal::cli::handlers {

namespace {

constexpr std::string_view kVersion = "Portal v2.0.0\n";

// False (and the usage printed, the command done) when fewer than `n` arguments
// came.
bool need(Session &s, const Invocation &inv, std::size_t n, std::string_view name) {
  if (inv.args.size() >= n) return true;
  s.print(help_for(name, s.module_commands()));
  s.done();
  return false;
}

std::string rest_of(const Invocation &inv, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < inv.args.size(); ++i) out += (out.empty() ? "" : " ") + inv.args[i];
  return out;
}

// Runs `fn` with the name of the user this session acts as (asks /auth/whoami
// when the session did not log in: the router may map the client's UNIX user).
void with_self(Session &s, std::function<void(Session &, const std::string &)> fn) {
  if (!s.user().empty()) return fn(s, s.user());
  s.request(Method::get, "/auth/whoami", {}, [fn = std::move(fn)](Session &s2, const Response &r) {
    std::string_view body = r.body;
    if (!r.ok() || !body.starts_with("User: ")) {
      s2.print("Not logged in\n");
      return s2.done();
    }
    body.remove_prefix(6);
    fn(s2, std::string(body.substr(0, body.find('\n'))));
  });
}

void print_and_done(Session &s, const Response &r) {
  s.print(format_response(r));
  s.done();
}

// The original guessed a path's access from its shape (COMPAT.md 3.2).
std::string kind_of(const std::string &path) {
  if (path.find("/resources/") != std::string::npos) return "resource (read)";
  if (path.find("/functions/") != std::string::npos) return "function (read/write)";
  if (path.rfind("/events/", 0) == 0) return "event";
  return "path";
}

std::string path_help(const std::string &path, const std::vector<std::pair<std::string, std::string>> &rows) {
  for (const auto &[p, owner] : rows)
    if (p == path) return "Path: " + p + "\nModule: " + owner + "\nKind: " + kind_of(p) + "\n";
  return "No such path: " + path + "\n";
}

std::string module_help(const std::string &module, const std::vector<std::pair<std::string, std::string>> &rows) {
  std::string resources, functions, other;
  for (const auto &[p, owner] : rows) {
    if (owner != module) continue;
    std::string &into = p.find("/resources/") != std::string::npos   ? resources
                        : p.find("/functions/") != std::string::npos ? functions
                                                                     : other;
    into += "    " + p + "\n";
  }
  if (resources.empty() && functions.empty() && other.empty())
    return "No help for '" + module + "'. Try: help\n";
  std::string out = "Module '" + module + "':\n";
  if (!resources.empty()) out += "  Resources:\n" + resources;
  if (!functions.empty()) out += "  Functions:\n" + functions;
  if (!other.empty()) out += "  Other paths:\n" + other;
  return out;
}

}  // namespace

void help(Session &s, const Invocation &inv) {
  if (inv.args.empty()) {
    s.refresh_module_commands([](Session &s2) {
      s2.print(help_text(s2.module_commands()));
      s2.done();
    });
    return;
  }
  const std::string name = rest_of(inv, 0);
  std::string text = help_for(name, s.module_commands());
  if (!text.empty()) {
    s.print(text);
    return s.done();
  }
  // `help /<path>`: who owns it and what it is; `help <module>`: the module's paths.
  std::string wanted = name.front() == '/' || name.find('/') != std::string::npos ? join_path(s.cwd(), name) : "";
  s.request(Method::get, "/core/paths", {}, [name, wanted](Session &s2, const Response &r) {
    std::vector<std::pair<std::string, std::string>> rows;  // (path, owner) the user may see
    for (const std::string &line : split_lines(r.body)) {
      const std::string arrow = " \xe2\x86\x92 ";
      std::size_t at = line.find(arrow);
      if (line.rfind("  ", 0) != 0 || at == std::string::npos) continue;
      std::string path = line.substr(2, at - 2);
      while (!path.empty() && path.back() == ' ') path.pop_back();
      rows.emplace_back(path, line.substr(at + arrow.size()));
    }
    s2.print(wanted.empty() ? module_help(name, rows) : path_help(wanted, rows));
    s2.done();
  });
}

void status(Session &s, const Invocation &) { s.show(Method::get, "/core/status"); }

void version(Session &s, const Invocation &) {
  s.print(kVersion);
  s.done();
}

void pwd(Session &s, const Invocation &) {
  s.print(s.cwd() + "\n");
  s.done();
}

void cd(Session &s, const Invocation &inv) {
  const std::string path = join_path(s.cwd(), inv.args.empty() ? "/" : inv.args[0]);
  resolve_path(s, path, [](Session &s2, const Response &r) {
    if (r.status == status::not_found)
      s2.print("No such path\n");
    else if (!r.ok())
      s2.print(format_response(r));
    else
      s2.set_cwd(trimmed(r.body));
    s2.done();
  });
}

void ls(Session &s, const Invocation &inv) {
  list_path(s, inv.args.empty() ? s.cwd() : join_path(s.cwd(), inv.args[0]), print_and_done);
}

void get(Session &s, const Invocation &inv) {
  if (!need(s, inv, 1, "get")) return;
  Target t = parse_target(inv.args[0]);
  s.show(t.has_query ? Method::call : Method::get, join_path(s.cwd(), t.path), std::move(t.query));
}

void set(Session &s, const Invocation &inv) {
  if (!need(s, inv, 2, "set")) return;
  Message m = make_message(Method::set, join_path(s.cwd(), inv.args[0]), text_after_words(inv.line, 2));
  s.request(std::move(m), [](Session &s2, const Response &r) {
    // An empty success would print nothing at all: say what happened.
    s2.print(r.ok() && r.body.empty() ? "OK (status " + std::to_string(r.status) + ")\n" : format_response(r));
    s2.done();
  });
}

void login(Session &s, const Invocation &inv) {
  if (!need(s, inv, 1, "login")) return;
  auto send = [user = inv.args[0]](Session &s2, std::string password) {
    Message m = make_message(Method::call, "/auth/login");
    m.add_header("username", user).add_header("password", std::move(password));
    s2.request_as_peer(std::move(m), [user](Session &s3, const Response &r) {
      std::string token = trimmed(r.body);
      if (r.ok() && !token.empty()) {
        s3.set_login(user, std::move(token));
        s3.print("Logged in as " + user + "\n");
      } else {
        s3.print("Login failed\n");
      }
      s3.done();
    });
  };
  if (inv.args.size() >= 2) return send(s, inv.args[1]);
  s.read_secret("Password: ", [send](Session &s2, std::string password) { send(s2, std::move(password)); });
}

void logout(Session &s, const Invocation &) {
  if (!s.logged_in()) {
    s.print("Not logged in\n");
    return s.done();
  }
  s.request(Method::call, "/auth/logout", {}, [](Session &s2, const Response &r) {
    s2.clear_login();
    print_and_done(s2, r);
  });
}

void whoami(Session &s, const Invocation &) { s.show(Method::get, "/auth/whoami"); }

void passwd(Session &s, const Invocation &inv) {
  if (!need(s, inv, 1, "passwd")) return;
  with_self(s, [password = inv.args[0]](Session &s2, const std::string &me) {
    s2.show(Method::call, "/users/" + me + "/password", {{"password", password}});
  });
}

void key(Session &s, const Invocation &) { s.show(Method::get, "/auth/key"); }
void key_rotate(Session &s, const Invocation &) { s.show(Method::call, "/auth/key/rotate"); }

void user_list(Session &s, const Invocation &) { s.show(Method::get, "/users"); }

void user_info(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "user info")) s.show(Method::get, "/users/" + inv.args[0]);
}

void user_create(Session &s, const Invocation &inv) {
  if (!need(s, inv, 2, "user create")) return;
  Headers h{{"password", inv.args[1]}};
  if (inv.args.size() >= 3) h.push_back({"groups", inv.args[2]});
  s.request(Method::set, "/users/" + inv.args[0], std::move(h), [](Session &s2, const Response &r) {
    if (r.status == status::created) {
      s2.print("User created\n");
      return s2.done();
    }
    print_and_done(s2, r);
  });
}

void user_passwd(Session &s, const Invocation &inv) {
  if (need(s, inv, 2, "user passwd"))
    s.show(Method::call, "/users/" + inv.args[0] + "/password", {{"password", inv.args[1]}});
}

void user_delete(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "user delete")) s.show(Method::call, "/users/" + inv.args[0], {{"action", "delete"}});
}

void group_list(Session &s, const Invocation &) { s.show(Method::get, "/groups"); }

void group_info(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "group info")) s.show(Method::get, "/groups/" + inv.args[0]);
}

void group_create(Session &s, const Invocation &inv) {
  if (!need(s, inv, 1, "group create")) return;
  Headers h;
  if (inv.args.size() >= 2) h.push_back({"description", rest_of(inv, 1)});
  s.show(Method::set, "/groups/" + inv.args[0], std::move(h));
}

void group_adduser(Session &s, const Invocation &inv) {
  if (need(s, inv, 2, "group adduser"))
    s.show(Method::call, "/groups/" + inv.args[0] + "/add", {{"user", inv.args[1]}});
}

void group_deluser(Session &s, const Invocation &inv) {
  if (need(s, inv, 2, "group deluser"))
    s.show(Method::call, "/groups/" + inv.args[0] + "/remove", {{"user", inv.args[1]}});
}

void module_list(Session &s, const Invocation &) { s.show(Method::get, "/core/modules"); }

void module_status(Session &s, const Invocation &inv) {
  s.show(Method::get, inv.args.empty() ? "/core/modules" : "/core/modules/" + inv.args[0]);
}

void module_action(Session &s, const Invocation &inv) {
  const std::string action = split_words(inv.line).at(1);
  if (!need(s, inv, 1, "module " + action)) return;
  const std::string &module = inv.args[0];
  if (module == "cli" && (action == "unload" || action == "stop")) {
    s.print("Refusing to " + action + " the CLI from inside it\n");
    return s.done();
  }
  s.show(Method::call, "/core/modules/" + module, {{"action", action}});
}

void path_list(Session &s, const Invocation &) { s.show(Method::get, "/core/paths"); }
void storage(Session &s, const Invocation &) { s.show(Method::get, "/core/storage"); }
void events(Session &s, const Invocation &) { s.show(Method::get, "/events"); }

void locks(Session &s, const Invocation &inv) {
  Headers h;
  if (!inv.args.empty()) h.push_back({"resource", inv.args[0]});
  s.show(Method::get, "/core/locks", std::move(h));
}

namespace {
std::string lock_owner(const Session &s) {
  return (s.user().empty() ? std::string("?") : s.user()) + "@cli:" + std::to_string(s.serial());
}
}  // namespace

void lock(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "lock"))
    s.show(Method::call, "/core/locks/lock", {{"resource", inv.args[0]}, {"owner", lock_owner(s)}});
}

void unlock(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "unlock"))
    s.show(Method::call, "/core/locks/unlock", {{"resource", inv.args[0]}, {"owner", lock_owner(s)}});
}

namespace {
std::string pattern_of(const Session &s, const std::string &arg) { return arg == "*" ? arg : join_path(s.cwd(), arg); }
}  // namespace

void subscribe(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "subscribe")) s.subscribe(pattern_of(s, inv.args[0]));
}

void unsubscribe(Session &s, const Invocation &inv) {
  if (need(s, inv, 1, "unsubscribe")) s.unsubscribe(pattern_of(s, inv.args[0]));
}

namespace {
void trace_command(Session &s, const Invocation &inv, bool debug) {
  if (!inv.args.empty() && inv.args[0] == "off") {
    s.trace_off();
    s.print(std::string(debug ? "Debug" : "Verbose") + " trace off\n");
    return s.done();
  }
  s.trace(inv.args.empty() ? "/" : inv.args[0], debug);
}
}  // namespace

void verbose(Session &s, const Invocation &inv) { trace_command(s, inv, false); }
void debug(Session &s, const Invocation &inv) { trace_command(s, inv, true); }

void config_get(Session &s, const Invocation &inv) {
  if (need(s, inv, 2, "config get"))
    s.show(Method::get, "/core/config/get", {{"module", inv.args[0]}, {"key", inv.args[1]}});
}

void config_set(Session &s, const Invocation &inv) {
  if (need(s, inv, 3, "config set"))
    s.show(Method::call, "/core/config/set",
           {{"module", inv.args[0]}, {"key", inv.args[1]}, {"value", rest_of(inv, 2)}});
}

void config_list(Session &s, const Invocation &inv) {
  Headers h;
  if (!inv.args.empty()) h.push_back({"module", inv.args[0]});
  s.show(Method::get, "/core/config/list", std::move(h));
}

void top(Session &s, const Invocation &) { TopView::start(s); }

void quit(Session &s, const Invocation &) { s.quit(); }

}  // namespace portal::cli::handlers

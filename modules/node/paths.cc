// The node module's own paths (COMPAT.md 4.5) and its shell commands.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "node.h"

namespace portal::node {

namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s + " ";
}

std::string duration_text(Clock::duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  return std::to_string(s / 3600) + "h " + std::to_string(s / 60 % 60) + "m " + std::to_string(s % 60) + "s";
}

std::vector<std::string> words_of(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const char* kCommands =
    "node\tnode\tThis node: name, port, peers, messages\n"
    "node status\tnode status [peer]\tThis node, or one peer in detail\n"
    "node peers\tnode peers\tPeers: NAME HOST PORT STATUS LATENCY\n"
    "node ping\tnode ping [peer|all]\tRound trip to a peer's /core/status\n"
    "node trace\tnode trace <path>\tEach hop of a request to /node/<peer>/<path>\n"
    "node reconnect\tnode reconnect\tDial every disconnected peer now\n"
    "ping\tping [peer|all]\tRound trip to a peer's /core/status\n"
    "tracert\ttracert <path>\tEach hop of a request to /node/<peer>/<path>\n";

}  // namespace

Status NodeModule::register_paths() {
  Core& core = *core_;
  auto on_loop_reply = [this](auto fn) {
    return [this, fn](const Message& m, Reply reply) { on_loop([this, fn, m, reply] { fn(m, reply); }); };
  };
  struct Entry {
    PathSpec spec;
    AsyncHandler handler;
  };
  std::vector<Entry> entries;
  entries.push_back({{"/node/resources/status", "This node: name, port, peers, messages", {}, Access::read},
                     on_loop_reply([this](const Message&, Reply r) { r(respond(status::ok, status_text())); })});
  entries.push_back({{"/node/resources/peers", "Peers and their links", {}, Access::read},
                     on_loop_reply([this](const Message& m, Reply r) { r(respond(status::ok, peers_text(m.ctx.auth))); })});
  auto one_peer = [this](const Message& m, Reply r) {
    std::string name = m.header_or("name", "");
    constexpr std::string_view prefix = "/node/resources/peer/";
    if (name.empty() && m.path.starts_with(prefix)) name = m.path.substr(prefix.size());
    auto text = peer_text(name, m.ctx.auth);
    r(text ? respond(status::ok, *text) : respond(status::not_found, "Peer '" + name + "' not found\n"));
  };
  entries.push_back({{"/node/resources/peer", "One peer in detail (header name)", {}, Access::read}, on_loop_reply(one_peer)});
  entries.push_back({{"/node/resources/peer/*", "One peer in detail", {}, Access::read}, on_loop_reply(one_peer)});
  entries.push_back({{"/node/functions/ping", "Round trip to a peer's /core/status (header name; all: every peer)", {},
                      Access::read_write},
                     on_loop_reply([this](const Message& m, Reply r) { ping(m.header_or("name", "all"), r); })});
  entries.push_back({{"/node/functions/trace", "Each hop of a request (header path)", {}, Access::read_write},
                     on_loop_reply([this](const Message& m, Reply r) { trace(m.header_or("path", ""), r); })});
  entries.push_back({{"/node/functions/reconnect", "Dial every disconnected peer now", {"admin"}, Access::read_write},
                     on_loop_reply([this](const Message&, Reply r) {
                       r(respond(status::ok, "Reconnecting " + std::to_string(reconnect_now()) + " peer(s)\n"));
                     })});
  entries.push_back({{"/node/cli/commands", "Shell commands of the node module", {}, Access::read},
                     [](const Message&, Reply r) { r(respond(status::ok, kCommands)); }});
  entries.push_back({{"/node/cli/run", "Runs a node shell command (header line)", {}, Access::read_write},
                     on_loop_reply([this](const Message& m, Reply r) { cli_run(m, r); })});
  auto fwd = [this](const Message& m, Reply reply) { on_loop([this, m, reply]() mutable { forward(std::move(m), reply); }); };
  entries.push_back({{"/node/*", "Paths of other nodes: /node/<peer>/<path>", {}, Access::read_write}, fwd});
  // A peer with labels: only users with one of them may use it (the router checks).
  for (const auto& [name, pc] : cfg_.peers)
    if (!pc.labels.empty())
      entries.push_back({{"/node/" + name + "/*", "Paths of node " + name, pc.labels, Access::read_write}, fwd});
  for (auto& e : entries)
    if (Status s = core.register_path_async(std::move(e.spec), std::move(e.handler)); !s) return s;
  return {};
}

std::string NodeModule::status_text() const {
  std::size_t up = 0, down = 0;
  LinkStats total;
  for (const auto& [name, p] : peers_) {
    (p->links.empty() ? down : up) += 1;
    add(total, p->closed);
    for (const auto& l : p->links) add(total, l->stats());
  }
  std::string port = listener_ ? std::to_string(listener_->port()) : std::string("(not listening)");
  return "Node: " + cfg_.name + "\nPort: " + port + "\nTLS: enabled" +
         (cfg_.tls.ca_file.empty() ? std::string(" (certificates not verified)") : std::string(" (CA verified)")) +
         "\nPeers: " + std::to_string(up) + " connected, " + std::to_string(down) + " disconnected\nWorkers/peer: " +
         std::to_string(cfg_.peer_workers) + "\nMessages sent: " + std::to_string(total.msgs_sent) +
         "\nMessages received: " + std::to_string(total.msgs_recv) + "\nRelayed: " + std::to_string(relayed_) +
         "\nUptime: " + duration_text(Clock::now() - started_) + "\n";
}

NodeModule::PeerSummary NodeModule::summarize(const Peer& p) const {
  PeerSummary s;
  s.via_hub = p.links.empty() && !p.cfg.hub.empty() && direct_link(p.cfg.hub);
  s.state = !p.links.empty() ? "ready" : p.dialing ? "connecting" : s.via_hub ? "via-hub" : p.cfg.host.empty() ? "dead" : "backoff";
  s.stats = p.closed;
  for (const auto& l : p.links) {
    const LinkStats ls = l->stats();
    add(s.stats, ls);
    if (s.latency_ms < 0) s.latency_ms = ls.latency_ms;
    s.directions += s.directions.empty() ? "" : "+";
    s.directions += l->role() == Role::client ? "outbound" : "inbound";
  }
  if (s.directions.empty()) s.directions = s.via_hub ? "indirect" : "-";
  return s;
}

std::string NodeModule::peers_text(const Identity& who) const {
  std::string out = "Connected peers:\n";
  bool any = false;
  for (const auto& [name, p] : peers_) {
    if (!core_->labels_allow(who, p->cfg.labels)) continue;
    any = true;
    const PeerSummary s = summarize(*p);
    std::string host = p->cfg.host.empty() ? (p->cfg.hub.empty() ? "(dials in)" : "(via " + p->cfg.hub + ")")
                                           : p->cfg.host + ":" + std::to_string(p->cfg.port);
    out += "  " + pad(name, 16) + pad(host, 18) + pad(s.state, 10) + s.directions + " links:" +
           std::to_string(p->links.size()) + " [TLS] latency:" +
           (s.latency_ms < 0 ? "-" : fixed(s.latency_ms, 1) + "ms") + " msgs:" + std::to_string(s.stats.msgs_sent) +
           "/" + std::to_string(s.stats.msgs_recv) + " bytes:" + std::to_string(s.stats.bytes_sent) + "/" +
           std::to_string(s.stats.bytes_recv) + " up:" +
           (p->links.empty() ? "0" : std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                           Clock::now() - p->up_since).count())) +
           "s\n";
  }
  if (!any) out += "  (none)\n";
  return out;
}

std::optional<std::string> NodeModule::peer_text(const std::string& name, const Identity& who) const {
  auto it = peers_.find(name);
  if (it == peers_.end() || !core_->labels_allow(who, it->second->cfg.labels)) return std::nullopt;
  const Peer& p = *it->second;
  const PeerSummary s = summarize(p);
  std::string out = "Peer: " + name + "\nHost: " + (p.cfg.host.empty() ? "-" : p.cfg.host + ":" + std::to_string(p.cfg.port)) +
                    "\nStatus: " + s.state + "\nRoute: " +
                    (!p.links.empty() ? "direct" : p.cfg.hub.empty() ? "-" : "via " + p.cfg.hub) +
                    "\nTLS: yes\nLinks: " + std::to_string(p.links.size()) +
                    "\nLatency: " + (s.latency_ms < 0 ? "-" : fixed(s.latency_ms, 2) + " ms") + "\nConnected: " +
                    (p.links.empty() ? "-" : duration_text(Clock::now() - p.up_since)) +
                    "\nMessages sent: " + std::to_string(s.stats.msgs_sent) +
                    "\nMessages recv: " + std::to_string(s.stats.msgs_recv) +
                    "\nBytes sent: " + std::to_string(s.stats.bytes_sent) +
                    "\nBytes recv: " + std::to_string(s.stats.bytes_recv) + "\nErrors: " + std::to_string(s.stats.errors) +
                    "\nConnect attempts: " + std::to_string(p.attempts) +
                    "\nConnect failures: " + std::to_string(p.failures) + "\n";
  if (!p.last_error.empty()) out += "Last error: " + p.last_error + "\n";
  if (p.retry_armed) {
    auto left = std::chrono::duration_cast<milliseconds>(p.retry_at - Clock::now()).count();
    out += "Next attempt in: " + std::to_string(std::max<long long>(0, left)) + " ms\n";
  }
  return out;
}

std::string NodeModule::cli_peers_table(const Identity& who) const {
  std::string out = pad("NAME", 16) + pad("HOST", 20) + pad("PORT", 6) + pad("STATUS", 11) + "LATENCY\n";
  for (const auto& [name, p] : peers_) {
    if (!core_->labels_allow(who, p->cfg.labels)) continue;
    const PeerSummary s = summarize(*p);
    std::string host = !p->cfg.host.empty() ? p->cfg.host : p->cfg.hub.empty() ? "-" : "(via " + p->cfg.hub + ")";
    std::string port = p->cfg.host.empty() ? "-" : std::to_string(p->cfg.port);
    out += pad(name, 16) + pad(host, 20) + pad(port, 6) + pad(s.state, 11) +
           (s.latency_ms < 0 ? "-" : fixed(s.latency_ms, 2) + " ms") + "\n";
  }
  return out;
}

void NodeModule::ping(const std::string& name, Reply reply) {
  std::vector<std::string> names;
  if (name.empty() || name == "all") {
    for (const auto& [n, p] : peers_) names.push_back(n);
    if (names.empty()) return reply(respond(status::ok, "(no peers)\n"));
  } else {
    if (!find_peer(name)) return reply(respond(status::not_found, "Peer '" + name + "' not found\n"));
    names.push_back(name);
  }
  struct Round {
    std::vector<std::string> lines;
    std::size_t left = 0;
    bool all = false;
    int status = status::ok;
  };
  auto round = std::make_shared<Round>();
  round->lines.resize(names.size());
  round->left = names.size();
  round->all = names.size() > 1 || name.empty() || name == "all";
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string peer = names[i];
    pb::Request req = request_to(peer, Method::get, "/core/status", milliseconds(5000));
    const auto start = Clock::now();
    bool direct = direct_link(peer) != nullptr;
    route(std::move(req), [this, round, i, peer, start, direct, reply](pb::Response&& r) {
      double ms = static_cast<double>(elapsed_us(start)) / 1000.0;
      bool ok = r.status() == status::ok;
      if (!ok && !round->all) round->status = static_cast<int>(r.status());
      std::string result = ok ? fixed(ms, 1) + "ms [TLS]" + (direct ? "" : " (via hub)")
                              : "unreachable (" + std::to_string(r.status()) + ")";
      round->lines[i] = round->all ? "  " + pad(peer, 16) + result + "\n" : peer + ": " + result + "\n";
      if (--round->left > 0) return;
      std::string body;
      for (auto& l : round->lines) body += l;
      reply(respond(round->status, std::move(body)));
    });
  }
}

void NodeModule::trace(const std::string& path, Reply reply) {
  if (path.empty() || path.front() != '/') return reply(respond(status::bad_request, "Usage: trace path=/node/<peer>/<path>\n"));
  std::string head = "Trace: " + path + "\n  hop 0: " + pad(cfg_.name, 16) + "(local)  0.0ms\n";
  const auto start = Clock::now();
  if (!path.starts_with("/node/") || path.starts_with("/node/resources/") || path.starts_with("/node/functions/")) {
    core_->send_async(make_message(Method::get, path), [reply, head](Response r) {
      reply(respond(status::ok, head + "  result: " + std::to_string(r.status) + " (" + std::to_string(r.body.size()) +
                                    " bytes) (local)\n"));
    });
    return;
  }
  std::string rest = path.substr(6);
  std::size_t slash = rest.find('/');
  std::string peer = rest.substr(0, slash);
  if (!find_peer(peer)) return reply(respond(status::not_found, "Peer '" + peer + "' not found\n"));
  pb::Request req =
      request_to(peer, Method::get, slash == std::string::npos ? "/" : rest.substr(slash), cfg_.request_timeout);
  route(std::move(req), [head, start, reply](pb::Response&& r) {
    // The route comes back innermost first (the destination, then each relay), each with
    // the time from its receiving the request to its answer. A hop's time is what the
    // previous node waited minus what this one spent: the link there and back.
    std::int64_t waited = static_cast<std::int64_t>(elapsed_us(start));
    std::string body = head;
    for (int k = r.route_size() - 1, hop = 1; k >= 0; --k, ++hop) {
      const auto spent = static_cast<std::int64_t>(r.route(k).elapsed_us());
      const double ms = static_cast<double>(std::max<std::int64_t>(0, waited - spent)) / 1000.0;
      body += "  hop " + std::to_string(hop) + ": " + pad(r.route(k).node(), 16) + fixed(ms, 2) + "ms\n";
      waited = spent;
    }
    body += "  result: " + std::to_string(r.status()) + " (" + std::to_string(r.body().size()) + " bytes" +
            (r.route_size() > 0 ? ", " + fixed(static_cast<double>(waited) / 1000.0, 2) + "ms at the destination" : "") +
            ")\n";
    reply(respond(status::ok, std::move(body)));
  });
}

void NodeModule::cli_run(const Message& m, Reply reply) {
  std::vector<std::string> w = words_of(m.header_or("line", ""));
  if (!w.empty() && w[0] == "node") w.erase(w.begin());
  else if (!w.empty() && w[0] == "tracert") w[0] = "trace";
  const std::string cmd = w.empty() ? "status" : w[0];
  const std::string arg = w.size() > 1 ? w[1] : "";
  if (cmd == "status" && arg.empty()) return reply(respond(status::ok, status_text()));
  if (cmd == "status") {
    auto text = peer_text(arg, m.ctx.auth);
    return reply(text ? respond(status::ok, *text) : respond(status::not_found, "Peer '" + arg + "' not found\n"));
  }
  if (cmd == "peers") return reply(respond(status::ok, cli_peers_table(m.ctx.auth)));
  if (cmd == "ping") return ping(arg.empty() ? "all" : arg, reply);
  if (cmd == "trace") {
    if (arg.empty()) return reply(respond(status::bad_request, "Usage: tracert <path>\n"));
    std::string path = arg;
    if (path.front() != '/') {  // relative to the shell's directory, like get
      std::string cwd = m.header_or("cwd", "/");
      path = (cwd.ends_with('/') ? cwd : cwd + "/") + path;
    }
    return trace(path, reply);
  }
  if (cmd == "reconnect") {  // the same gate as /node/functions/reconnect
    const Identity& who = m.ctx.auth;
    bool admin = who.user == "root" || std::find(who.labels.begin(), who.labels.end(), "admin") != who.labels.end();
    if (!admin) return reply(respond(status::forbidden, "Forbidden\n"));
    return reply(respond(status::ok, "Reconnecting " + std::to_string(reconnect_now()) + " peer(s)\n"));
  }
  reply(respond(status::bad_request, std::string("Usage:\n") + kCommands));
}

}  // namespace portal::node

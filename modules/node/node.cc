// mod_node: links, routing, hub relay and the per-peer pools. README.md describes the
// behaviour; docs/PROTOCOL.md §11 the bytes.
#include "node.h"

#include <algorithm>
#include <future>

#include <openssl/sha.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

namespace portal::node {

namespace asio = boost::asio;

namespace {

constexpr auto kKeyCacheTime = std::chrono::seconds(30);
constexpr std::size_t kKeyCacheMax = 4096;
constexpr milliseconds kConnectTimeout{5000};
constexpr milliseconds kMaintainEvery{5000};

std::string sha256_hex(std::string_view text) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}



bool remotely_allowed(std::uint32_t method) {
  auto m = static_cast<Method>(method);
  return m == Method::get || m == Method::set || m == Method::call || m == Method::meta;
}


}  // namespace

// --- lifecycle --------------------------------------------------------------------------

void NodeModule::on_loop(std::function<void()> fn) {
  asio::post(core_->io(), [alive = alive_, fn = std::move(fn)]() mutable {
    if (*alive) fn();
  });
}

Status NodeModule::load(Core& core) {
  core_ = &core;
  auto cfg = parse_config(core);
  if (!cfg) return cfg.error();
  cfg_ = std::move(*cfg);
  auto tls = make_tls_contexts(cfg_.tls);
  if (!tls) return make_error(kFatalConfig, tls.error().message);
  tls_ = std::move(*tls);
  link_opts_.local_name = cfg_.name;
  link_opts_.key = cfg_.key;
  link_opts_.max_frame = cfg_.max_frame;
  link_opts_.ping_interval = cfg_.ping_interval;
  link_opts_.dead_after = cfg_.dead_after;
  for (const auto& [name, pc] : cfg_.peers) {
    auto p = std::make_unique<Peer>(pc, cfg_);
    p->configured = true;
    p->retry = std::make_unique<asio::steady_timer>(core.io());
    peers_.emplace(name, std::move(p));
  }
  bool keys = !cfg_.default_key.empty() ||
              std::any_of(cfg_.peers.begin(), cfg_.peers.end(), [](const auto& kv) { return !kv.second.key.empty(); });
  if ((keys || !cfg_.inbound_default_user.empty()) && core.config("assert_identity").value_or("") != "true")
    core.log(LogLevel::warn,
             "assert_identity is not true in [mod_node]: requests from peers will run as anonymous here");
  for (const char* ev : {"/events/node/peer_up", "/events/node/peer_down"})
    if (Status s = core.declare_event({ev, "A federation link came up or went down (body: peer=<name>)", {}}); !s)
      return s;
  if (Status s = register_paths(); !s) return s;
  if (cfg_.listen) {
    Listener::Options lo;
    lo.bind = cfg_.bind;
    lo.port = cfg_.listen_port;
    auto l = Listener::start(core.io(), tls_.server, lo, link_opts_, [this] { return callbacks(); });
    if (!l) return make_error(kFatalConfig, "listen on " + cfg_.bind + ":" + std::to_string(cfg_.listen_port) + ": " +
                                                l.error().message);
    listener_ = std::move(*l);
    core.log(LogLevel::info, "node '" + cfg_.name + "' listening on " + cfg_.bind + ":" +
                                 std::to_string(listener_->port()));
  }
  maintain_timer_ = std::make_unique<asio::steady_timer>(core.io());
  on_loop([this] { maintain(); });
  return {};
}

// Runs on the loop and waits for it: after this no link callback reaches the module.
void NodeModule::unload(Core& core) {
  auto teardown = [this] {
    *alive_ = false;
    if (listener_) listener_->stop();
    if (maintain_timer_) maintain_timer_->cancel();
    for (auto& [name, p] : peers_) {
      if (p->retry) p->retry->cancel();
      if (p->pending) p->pending->close("node module unloading");
      for (auto& l : p->links) l->close("node module unloading");
    }
  };
  // Shared with the posted work: after a timeout here it may still run, later.
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(core.io(), [teardown, done] {
    teardown();
    done->set_value();
  });
  if (finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    core.log(LogLevel::warn, "event loop did not run the teardown within 5 s");
}

// --- the peer table -----------------------------------------------------------------------

NodeModule::Peer* NodeModule::find_peer(const std::string& name) {
  auto it = peers_.find(name);
  return it == peers_.end() ? nullptr : it->second.get();
}

NodeModule::Peer& NodeModule::peer_named(const std::string& name) {
  if (Peer* p = find_peer(name)) return *p;
  PeerConfig pc;
  pc.name = name;
  pc.auto_connect = false;  // it dialled us; we have no address to dial back
  auto p = std::make_unique<Peer>(pc, cfg_);
  p->retry = std::make_unique<asio::steady_timer>(core_->io());
  return *peers_.emplace(name, std::move(p)).first->second;
}

std::shared_ptr<Link> NodeModule::direct_link(const std::string& name) const {
  auto it = peers_.find(name);
  if (it == peers_.end()) return nullptr;
  for (const auto& l : it->second->links)
    if (l->is_up()) return l;
  return nullptr;
}

// --- links --------------------------------------------------------------------------------

Link::Callbacks NodeModule::callbacks() {
  Link::Callbacks cb;
  cb.up = [this, alive = alive_](const std::shared_ptr<Link>& l) {
    if (*alive) link_up(l);
  };
  cb.request = [this, alive = alive_](const std::shared_ptr<Link>& l, pb::Request&& req) {
    if (*alive) on_request(l, std::move(req));
  };
  cb.event = [](const std::shared_ptr<Link>&, pb::Event&&) {};  // no remote subscriptions yet
  cb.down = [this, alive = alive_](const std::shared_ptr<Link>& l, const std::string& why) {
    if (*alive) link_down(l, why);
  };
  return cb;
}

void NodeModule::dial(Peer& p) {
  if (p.dialing || !p.links.empty() || p.cfg.host.empty()) return;
  p.dialing = true;
  p.retry_armed = false;
  ++p.attempts;
  auto resolver = std::make_shared<Tcp::resolver>(core_->io());
  std::string name = p.cfg.name;
  auto fail = [this, name](const std::string& why) {
    Peer* q = find_peer(name);
    if (!q) return;
    q->dialing = false;
    ++q->failures;
    q->last_error = why;
    schedule_dial(*q, why);
  };
  resolver->async_resolve(
      p.cfg.host, std::to_string(p.cfg.port),
      [this, alive = alive_, resolver, name, fail](boost::system::error_code ec, Tcp::resolver::results_type results) {
        if (!*alive) return;
        if (ec) return fail("resolving: " + ec.message());
        auto sock = std::make_shared<Tcp::socket>(core_->io());
        auto timer = std::make_shared<asio::steady_timer>(core_->io(), kConnectTimeout);
        timer->async_wait([sock](boost::system::error_code e) {
          if (!e) sock->close();
        });
        asio::async_connect(*sock, results,
                            [this, alive, sock, timer, name, fail](boost::system::error_code e, const Tcp::endpoint&) {
                              timer->cancel();
                              if (!*alive) return;
                              if (e) return fail("connecting: " + e.message());
                              Peer* q = find_peer(name);
                              if (!q) return;
                              boost::system::error_code ignored;
                              sock->set_option(Tcp::no_delay(true), ignored);
                              LinkOptions o = link_opts_;
                              o.verify_host = q->cfg.host;
                              q->pending = Link::start(Role::client, TlsStream(std::move(*sock), *tls_.client), o,
                                                       name, callbacks());
                            });
      });
}

void NodeModule::schedule_dial(Peer& p, const std::string& why) {
  if (!p.cfg.auto_connect || p.cfg.host.empty() || p.retry_armed) return;
  milliseconds wait = p.backoff.next();
  p.retry_armed = true;
  p.retry_at = Clock::now() + wait;
  core_->log(LogLevel::info, "peer " + p.cfg.name + ": " + why + "; next attempt in " +
                                 std::to_string(wait.count()) + " ms");
  p.retry->expires_after(wait);
  p.retry->async_wait([this, alive = alive_, name = p.cfg.name](boost::system::error_code ec) {
    if (ec || !*alive) return;
    if (Peer* q = find_peer(name)) {
      q->retry_armed = false;
      dial(*q);
    }
  });
}

void NodeModule::link_up(const std::shared_ptr<Link>& link) {
  const std::string name = link->peer_name();
  if (name == cfg_.name) {
    link->close("the other node has this node's name");
    return;
  }
  Peer& p = peer_named(name);
  if (p.pending == link) {
    p.pending.reset();
    p.dialing = false;
  }
  if (p.links.empty()) p.up_since = Clock::now();
  p.links.push_back(link);
  p.backoff.reset();
  p.last_error.clear();
  core_->log(LogLevel::info, "link with " + name + " up (" +
                                 (link->role() == Role::client ? "outbound to " : "inbound from ") +
                                 link->remote_address() + ")");
  core_->emit("/events/node/peer_up", "peer=" + name + "\n");
}

void NodeModule::link_down(const std::shared_ptr<Link>& link, const std::string& why) {
  for (auto& [name, p] : peers_) {
    if (p->pending == link) {  // our dial failed before the link came up
      p->pending.reset();
      p->dialing = false;
      ++p->failures;
      p->last_error = why;
      schedule_dial(*p, why);
      return;
    }
    auto it = std::find(p->links.begin(), p->links.end(), link);
    if (it == p->links.end()) continue;
    add(p->closed, link->stats());
    p->links.erase(it);
    p->last_error = why;
    core_->log(LogLevel::info, "link with " + name + " down: " + why);
    if (p->links.empty()) {
      core_->emit("/events/node/peer_down", "peer=" + name + "\n");
      schedule_dial(*p, "link down");
    }
    return;
  }
  // An inbound connection that never came up: the listener counted it. The peer got one
  // generic 401; the reason goes to the log (info for a failed proof, debug for the rest,
  // so a port scan does not fill it).
  const bool auth = why.rfind("authentication failed", 0) == 0;
  if (!auth) return core_->log(LogLevel::debug, "inbound connection from " + link->remote_address() + " refused: " + why);
  log_refusal("inbound connection from " + link->remote_address() + " refused: " + why);
}

// At most kRefusalsLogged failed handshakes per window reach the log, then one line says
// how many more there were: a client with the wrong key, retrying, cannot flood it.
void NodeModule::log_refusal(const std::string& text) {
  constexpr std::size_t kRefusalsLogged = 20;
  constexpr auto kWindow = std::chrono::seconds(10);
  const auto now = Clock::now();
  if (now - refusal_window_ >= kWindow) {
    if (refusals_suppressed_ > 0)
      core_->log(LogLevel::info, std::to_string(refusals_suppressed_) + " more refused handshakes not logged");
    refusal_window_ = now;
    refusals_logged_ = refusals_suppressed_ = 0;
  }
  if (refusals_logged_++ < kRefusalsLogged)
    core_->log(LogLevel::info, text);
  else
    ++refusals_suppressed_;
}

void NodeModule::maintain() {
  auto now = Clock::now();
  for (auto it = keys_.begin(); it != keys_.end();) it = it->second.until <= now ? keys_.erase(it) : std::next(it);
  for (auto& [name, p] : peers_)
    if (p->configured && p->cfg.auto_connect && p->links.empty() && !p->dialing && !p->retry_armed) dial(*p);
  maintain_timer_->expires_after(kMaintainEvery);
  maintain_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) maintain();
  });
}

int NodeModule::reconnect_now() {
  int n = 0;
  for (auto& [name, p] : peers_) {
    if (!p->configured || p->cfg.host.empty() || !p->links.empty() || p->dialing) continue;
    p->retry->cancel();
    p->retry_armed = false;
    p->backoff.reset();
    dial(*p);
    ++n;
  }
  return n;
}

// --- traffic from here ------------------------------------------------------------------------

void NodeModule::forward(Message msg, Reply reply) {
  // "/node/<peer>/<rest>"
  std::string_view rest(msg.path);
  rest.remove_prefix(std::string_view("/node/").size());
  std::size_t slash = rest.find('/');
  std::string name(rest.substr(0, slash));
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  Peer* p = find_peer(name);
  if (!valid_node_name(name) || (!p && name != cfg_.name))
    return reply(respond(status::not_found, "Peer '" + name + "' not found\n"));
  if (name == cfg_.name)
    return reply(respond(status::bad_request, "'" + name + "' is this node: use " + path + "\n"));
  if (!remotely_allowed(static_cast<std::uint32_t>(msg.method)))
    return reply(respond(status::bad_request, "Only GET, SET, CALL and META travel to other nodes\n"));
  milliseconds timeout = msg.timeout.count() > 0 ? std::min(msg.timeout, cfg_.request_timeout) : cfg_.request_timeout;
  pb::Request req = request_to(name, msg.method, std::move(path), timeout);
  for (auto& h : msg.headers) {
    pb::Header* out = req.add_headers();
    out->set_key(std::move(h.key));
    out->set_value(std::move(h.value));
  }
  req.set_body(std::move(msg.body));
  req.set_trace_id(msg.ctx.trace.trace_id);
  req.set_parent_id(msg.id);
  route(std::move(req), [reply](pb::Response&& r) {
    Response out;
    out.status = static_cast<int>(r.status());
    for (auto& h : *r.mutable_headers()) out.headers.push_back({std::move(*h.mutable_key()), std::move(*h.mutable_value())});
    out.body = std::move(*r.mutable_body());
    reply(std::move(out));
  });
}

pb::Request NodeModule::request_to(const std::string& dest, Method method, std::string path,
                                   milliseconds timeout) const {
  pb::Request req;
  req.set_method(static_cast<std::uint32_t>(method));
  req.set_path(std::move(path));
  req.add_visited(cfg_.name);
  req.set_origin(cfg_.name);
  req.set_destination(dest);
  req.set_timeout_ms(static_cast<std::uint32_t>(timeout.count()));
  auto it = peers_.find(dest);
  const std::string& key = it != peers_.end() && !it->second->cfg.key.empty() ? it->second->cfg.key : cfg_.default_key;
  if (!key.empty()) req.set_credential(key);
  return req;
}

void NodeModule::route(pb::Request req, Link::ResponseFn done) {
  const std::string dest = req.destination();
  milliseconds timeout(req.timeout_ms() ? req.timeout_ms() : cfg_.request_timeout.count());
  if (auto link = direct_link(dest)) return link->request(std::move(req), timeout, std::move(done));
  Peer* p = find_peer(dest);
  if (p && !p->cfg.hub.empty()) {
    const auto& visited = req.visited();
    if (std::find(visited.begin(), visited.end(), p->cfg.hub) != visited.end())
      return done(make_response(0, 508, "Loop detected: " + p->cfg.hub + " already relayed this message\n"));
    if (auto hub = direct_link(p->cfg.hub)) return hub->request(std::move(req), timeout, std::move(done));
  }
  done(make_response(0, status::unavailable, "Peer '" + dest + "' is not connected\n"));
}

// --- traffic from peers ---------------------------------------------------------------------

void NodeModule::answer(const std::shared_ptr<Link>& link, std::uint64_t id, int status, std::string body) {
  link->respond(make_response(id, status, std::move(body)));
}

void NodeModule::on_request(const std::shared_ptr<Link>& link, pb::Request&& req) {
  if (req.destination().empty() || req.destination() == cfg_.name) return execute(link, std::move(req));
  relay(link, std::move(req));
}

void NodeModule::relay(const std::shared_ptr<Link>& from, pb::Request&& req) {
  const std::uint64_t id = req.id();
  const auto& visited = req.visited();
  if (std::find(visited.begin(), visited.end(), cfg_.name) != visited.end()) {
    ++dropped_loops_;
    return answer(from, id, 508, "Loop detected: " + cfg_.name + " already relayed this message\n");
  }
  if (req.hops() + 1 > cfg_.max_hops) {
    ++dropped_loops_;
    return answer(from, id, 508, "Hop limit reached (" + std::to_string(cfg_.max_hops) + ")\n");
  }
  req.set_hops(req.hops() + 1);
  req.add_visited(cfg_.name);
  ++relayed_;
  const auto start = Clock::now();
  route(std::move(req), [this, from, id, start](pb::Response&& r) {
    pb::Hop* hop = r.add_route();
    hop->set_node(cfg_.name);
    hop->set_elapsed_us(elapsed_us(start));
    r.set_id(id);
    from->respond(std::move(r));
  });
}

void NodeModule::execute(const std::shared_ptr<Link>& from, pb::Request&& req) {
  const std::uint64_t id = req.id();
  if (!remotely_allowed(req.method())) return answer(from, id, status::bad_request, "Method not allowed between nodes\n");
  if (req.path().empty() || req.path().front() != '/') return answer(from, id, status::bad_request, "Bad path\n");
  std::string pool = req.origin().empty() ? from->peer_name() : req.origin();
  Pool& p = pools_[pool];
  Job job{from, std::move(req), pool, Clock::now()};
  if (p.running < cfg_.peer_workers) {
    ++p.running;
    return run_job(std::move(job));
  }
  if (p.waiting.size() < cfg_.peer_queue) return p.waiting.push_back(std::move(job));
  ++p.rejected;
  answer(from, id, status::unavailable, "Too many requests from " + pool + " waiting\n");
}

void NodeModule::run_job(Job job) {
  auto go = [this, job](const std::string& user) mutable {
    Message m;
    m.method = static_cast<Method>(job.req.method());
    m.path = std::move(*job.req.mutable_path());
    for (auto& h : *job.req.mutable_headers()) m.headers.push_back({std::move(*h.mutable_key()), std::move(*h.mutable_value())});
    m.body = std::move(*job.req.mutable_body());
    m.ctx.source_node = job.req.origin();
    m.ctx.trace.trace_id = job.req.trace_id();
    m.ctx.trace.hops = job.req.hops();
    if (job.req.timeout_ms()) m.timeout = milliseconds(job.req.timeout_ms());
    if (!user.empty()) m.ctx.asserted.user = user;
    core_->send_async(std::move(m), [this, alive = alive_, link = job.link, id = job.req.id(), start = job.received,
                                     pool = job.pool](Response r) {
      if (!*alive) return;
      pb::Response out = make_response(id, r.status, std::move(r.body));
      for (auto& h : r.headers) {
        pb::Header* oh = out.add_headers();
        oh->set_key(std::move(h.key));
        oh->set_value(std::move(h.value));
      }
      pb::Hop* hop = out.add_route();
      hop->set_node(cfg_.name);
      hop->set_elapsed_us(elapsed_us(start));
      link->respond(std::move(out));
      job_done(pool);
    });
  };
  if (job.req.credential().empty()) return go(cfg_.inbound_default_user);
  std::string key = job.req.credential();
  std::string origin = job.req.origin();
  resolve_key(key, origin, std::move(go));
}

void NodeModule::job_done(const std::string& pool) {
  auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  Pool& p = it->second;
  if (p.running > 0) --p.running;
  if (!p.waiting.empty()) {
    Job next = std::move(p.waiting.front());
    p.waiting.pop_front();
    ++p.running;
    return run_job(std::move(next));
  }
  if (p.running == 0 && !find_peer(pool)) pools_.erase(it);  // relayed origins come and go
}

// COMPAT.md 4.3: the key a peer presents is an API key of a user here; requests from it run
// as that user, asserted to the router (assert_identity). A key nobody has: the default.
void NodeModule::resolve_key(const std::string& key, const std::string& origin,
                             std::function<void(std::string)> then) {
  std::string digest = sha256_hex(key);
  if (auto it = keys_.find(digest); it != keys_.end() && it->second.until > Clock::now())
    return then(it->second.user.empty() ? cfg_.inbound_default_user : it->second.user);
  Message m = make_message(Method::get, "/auth/whoami");
  m.ctx.credentials.api_key = key;
  m.ctx.credentials.source = "node:" + origin;
  core_->send_async(std::move(m), [this, alive = alive_, digest, origin, then = std::move(then)](Response r) {
    if (!*alive) return;
    std::string user;
    constexpr std::string_view prefix = "User: ";
    if (r.status == status::ok && r.body.starts_with(prefix))
      user = r.body.substr(prefix.size(), r.body.find('\n') - prefix.size());
    else if (r.status == status::unauthorized)
      core_->log(LogLevel::warn, "node " + origin + " presented an API key no user here has; it acts as " +
                                     (cfg_.inbound_default_user.empty() ? "anonymous" : cfg_.inbound_default_user));
    if (keys_.size() >= kKeyCacheMax) keys_.clear();
    if (r.status == status::ok || r.status == status::unauthorized)
      keys_[digest] = KnownKey{user, Clock::now() + kKeyCacheTime};
    then(user.empty() ? cfg_.inbound_default_user : user);
  });
}

}  // namespace portal::node

PORTAL_MODULE(portal::node::NodeModule, "node", "2.0.0", "Federation: TLS links between Portal nodes, hub relay")

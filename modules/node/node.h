// mod_node: federation (README.md). `/node/<peer>/<path>` here is `<path>` on the peer.
//
// Everything below runs on the module's event loop: link callbacks, dialing, the peer
// table, the per-peer pools. Path handlers run on handler threads and only post work to
// the loop, so no handler thread ever waits on the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "link.h"
#include "portal/module.h"

namespace portal::node {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct PeerConfig {
  std::string name;
  std::string host;  // empty: reached through `hub`, or it dials us
  std::uint16_t port = 9090;
  bool auto_connect = true;
  std::string hub;                  // relay through this peer when no direct link is up
  std::string key;                  // API key of a user on the peer: our identity there
  std::vector<std::string> labels;  // who here may use /node/<peer>/*; empty: everyone
};

struct NodeConfig {
  std::string name;
  Key key{};
  std::string bind = "0.0.0.0";
  std::uint16_t listen_port = 9090;
  bool listen = true;
  TlsFiles tls;
  std::map<std::string, PeerConfig> peers;
  std::size_t peer_workers = 16;   // requests of one peer running here at once
  std::size_t peer_queue = 256;    // requests of one peer waiting; beyond: 503
  std::uint32_t max_hops = 8;
  std::uint32_t max_frame = 16u << 20;
  milliseconds request_timeout{30000};
  milliseconds ping_interval{1000};
  milliseconds dead_after{5000};
  milliseconds backoff_initial{1000};
  milliseconds backoff_max{60000};
  std::string inbound_default_user;  // identity of peers that present no key; empty: anonymous
  std::string default_key;           // peer_default_key: presented to peers without their own
};

// Reads [mod_node] and the [peer:NAME] sections; an error is a configuration that can never
// work (kFatalConfig), with a message naming the setting.
Result<NodeConfig> parse_config(const Core& core);

// 1 s, doubling to the maximum, each wait drawn from [d/2, d] so peers that lost the same
// hub do not all dial back at the same instant.
class Backoff {
 public:
  Backoff(milliseconds initial, milliseconds max) : initial_(initial), max_(max), next_(initial) {}
  milliseconds next();  // the wait before the next attempt; doubles the one after
  void reset() { next_ = initial_; }
  milliseconds current() const { return next_; }

 private:
  milliseconds initial_, max_, next_;
};

class NodeModule final : public Module {
 public:
  Status load(Core& core) override;
  void unload(Core& core) override;

 private:
  struct Peer;
  struct Job {
    std::shared_ptr<Link> link;
    pb::Request req;
    std::string pool;
    Clock::time_point received;
  };
  enum class Via { direct, hub };

  // --- links (node.cc) ---
  void dial(Peer& p);
  void schedule_dial(Peer& p, const std::string& why);
  Link::Callbacks callbacks();
  void link_up(const std::shared_ptr<Link>& link);
  void link_down(const std::shared_ptr<Link>& link, const std::string& why);
  void maintain();  // every few seconds: dial what should be up
  void log_refusal(const std::string& text);
  int reconnect_now();  // dials every disconnected configured peer at once; how many
  Peer& peer_named(const std::string& name);
  Peer* find_peer(const std::string& name);
  std::shared_ptr<Link> direct_link(const std::string& name) const;

  // --- traffic (node.cc) ---
  // A request for /node/<peer>/<rest> from here: on the loop.
  void forward(Message msg, Reply reply);
  // Sends `req` towards its destination: a direct link, else the destination's hub. `done`
  // runs on the loop.
  void route(pb::Request req, Link::ResponseFn done);
  // A request from this node to `dest`: origin, visited, destination, deadline and the key
  // this node presents there.
  pb::Request request_to(const std::string& dest, Method method, std::string path, milliseconds timeout) const;
  void on_request(const std::shared_ptr<Link>& link, pb::Request&& req);
  void relay(const std::shared_ptr<Link>& from, pb::Request&& req);
  void execute(const std::shared_ptr<Link>& from, pb::Request&& req);
  void run_job(Job job);
  void job_done(const std::string& pool);
  void resolve_key(const std::string& key, const std::string& origin, std::function<void(std::string)> then);
  static void answer(const std::shared_ptr<Link>& link, std::uint64_t id, int status, std::string body);

  // --- paths (paths.cc) ---
  Status register_paths();
  std::string status_text() const;
  // What the listings show of a peer, gathered once (one stats() call per link).
  struct PeerSummary {
    bool via_hub = false;
    std::string state;       // ready, connecting, via-hub, backoff, dead
    std::string directions;  // outbound+inbound, indirect, -
    LinkStats stats;         // its closed links and the live ones
    double latency_ms = -1;  // of its first link; -1 when none
  };
  PeerSummary summarize(const Peer& p) const;
  std::string peers_text(const Identity& who) const;
  std::optional<std::string> peer_text(const std::string& name, const Identity& who) const;
  void ping(const std::string& name, Reply reply);
  void trace(const std::string& path, Reply reply);
  void cli_run(const Message& msg, Reply reply);
  std::string cli_peers_table(const Identity& who) const;
  // Runs `fn` on the event loop unless the module is unloading by then.
  void on_loop(std::function<void()> fn);

  Core* core_ = nullptr;
  NodeConfig cfg_;
  TlsContexts tls_;
  LinkOptions link_opts_;
  std::shared_ptr<Listener> listener_;
  std::map<std::string, std::unique_ptr<Peer>> peers_;
  // Requests from one origin node: running and waiting (the per-peer pools).
  struct Pool {
    std::size_t running = 0;
    std::deque<Job> waiting;
    std::uint64_t rejected = 0;
  };
  std::map<std::string, Pool> pools_;
  // API key (its SHA-256) -> the local user it belongs to, "" for none; resolved through the
  // router, kept for a short while.
  struct KnownKey {
    std::string user;
    Clock::time_point until;
  };
  std::unordered_map<std::string, KnownKey> keys_;
  std::unique_ptr<boost::asio::steady_timer> maintain_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Clock::time_point refusal_window_{};
  std::size_t refusals_logged_ = 0;
  std::size_t refusals_suppressed_ = 0;
  std::uint64_t relayed_ = 0;
  std::uint64_t dropped_loops_ = 0;
  Clock::time_point started_ = Clock::now();
};

struct NodeModule::Peer {
  Peer(PeerConfig c, const NodeConfig& n) : cfg(std::move(c)), backoff(n.backoff_initial, n.backoff_max) {}
  PeerConfig cfg;
  bool configured = false;
  std::vector<std::shared_ptr<Link>> links;  // authenticated, both directions
  std::shared_ptr<Link> pending;              // our dial, before it is up
  bool dialing = false;                       // resolving, connecting or handshaking
  Backoff backoff;
  std::unique_ptr<boost::asio::steady_timer> retry;
  bool retry_armed = false;
  Clock::time_point retry_at{};
  std::string last_error;
  std::uint64_t attempts = 0;
  std::uint64_t failures = 0;
  LinkStats closed;  // counters of this peer's links that are gone
  Clock::time_point up_since{};
};



inline std::uint64_t elapsed_us(Clock::time_point since) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since).count());
}

inline void add(LinkStats& total, const LinkStats& s) {
  total.msgs_sent += s.msgs_sent;
  total.msgs_recv += s.msgs_recv;
  total.bytes_sent += s.bytes_sent;
  total.bytes_recv += s.bytes_recv;
  total.errors += s.errors;
}

}  // namespace portal::node

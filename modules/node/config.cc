// [mod_node] and [peer:NAME] settings (README.md has the table).
#include <algorithm>
#include <random>

#include "node.h"
#include "portal/config_values.h"

namespace portal::node {

namespace cv = config_values;

namespace {

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    pos = comma + 1;
  }
  return out;
}

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  return std::nullopt;
}

Status read_bool(const Core& core, std::string_view key, bool& out) {
  auto v = core.config(key);
  if (!v) return {};
  auto b = parse_bool(*v);
  if (!b) return cv::bad_value(key, *v, "true or false");
  out = *b;
  return {};
}

Status read_ms(const Core& core, std::string_view key, std::uint64_t min, std::uint64_t max, milliseconds& out) {
  std::uint64_t v = static_cast<std::uint64_t>(out.count());
  auto lookup = [&](std::string_view k) { return core.config(k); };
  if (Status s = cv::read_number(lookup, key, min, max, v); !s) return s;
  out = milliseconds(v);
  return {};
}

// "[peer:factory]" keys arrive as "peer:factory.host".
Status read_peer_sections(const Core& core, NodeConfig& cfg) {
  for (const std::string& key : core.config_keys()) {
    if (!key.starts_with("peer:")) continue;
    std::size_t dot = key.find('.');
    if (dot == std::string::npos) continue;
    std::string name = key.substr(5, dot - 5);
    std::string field = key.substr(dot + 1);
    std::string value = *core.config(key);
    if (!valid_node_name(name))
      return make_error(kFatalConfig, "[peer:" + name + "]: invalid peer name (1-64 of A-Z a-z 0-9 _ . -)");
    PeerConfig& p = cfg.peers[name];
    p.name = name;
    if (field == "host") {
      p.host = value;
    } else if (field == "port") {
      auto n = cv::parse_number(value);
      if (!n || *n == 0 || *n > 65535) return cv::bad_value(key, value, "a port from 1 to 65535");
      p.port = static_cast<std::uint16_t>(*n);
    } else if (field == "auto_connect") {
      auto b = parse_bool(value);
      if (!b) return cv::bad_value(key, value, "true or false");
      p.auto_connect = *b;
    } else if (field == "hub") {
      p.hub = value;
    } else if (field == "key") {
      p.key = value;
    } else if (field == "labels") {
      p.labels = split_list(value);
    } else {
      return make_error(kFatalConfig, "[peer:" + name + "] " + field + ": unknown setting");
    }
  }
  return {};
}

// COMPAT.md 4.3: "peer_keys = factory:KEY, hub:KEY"; a [peer:NAME] key wins.
Status read_peer_keys(const Core& core, NodeConfig& cfg) {
  auto text = core.config("peer_keys");
  if (!text) return {};
  for (const std::string& item : split_list(*text)) {
    std::size_t colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      return make_error(kFatalConfig, "invalid peer_keys entry (expected name:key)");
    std::string name = item.substr(0, colon);
    if (!valid_node_name(name)) return make_error(kFatalConfig, "peer_keys: invalid peer name '" + name + "'");
    PeerConfig& p = cfg.peers[name];
    p.name = name;
    if (p.key.empty()) p.key = item.substr(colon + 1);
  }
  return {};
}

Status check_peers(NodeConfig& cfg) {
  for (auto& [name, p] : cfg.peers) {
    if (name == cfg.name) return make_error(kFatalConfig, "[peer:" + name + "] is this node's own name");
    if (name == "resources" || name == "functions" || name == "cli")
      return make_error(kFatalConfig, "[peer:" + name + "]: the name is taken by /node/" + name + "/");
    if (!p.hub.empty()) {
      if (p.hub == name) return make_error(kFatalConfig, "[peer:" + name + "] hub: a peer cannot be its own hub");
      if (!valid_node_name(p.hub)) return make_error(kFatalConfig, "[peer:" + name + "] hub: invalid node name");
    }
    if (p.host.empty()) p.auto_connect = false;  // it dials us, or is reached through its hub
  }
  return {};
}

}  // namespace


Result<NodeConfig> parse_config(const Core& core) {
  NodeConfig cfg;
  auto lookup = [&](std::string_view k) { return core.config(k); };
  cfg.name = core.config("name").value_or(core.config("node_name").value_or(""));
  if (cfg.name.empty()) return make_error(kFatalConfig, "name is not set: every node needs its own name");
  if (!valid_node_name(cfg.name))
    return make_error(kFatalConfig, "invalid name = '" + cfg.name + "': 1-64 of A-Z a-z 0-9 _ . -");
  auto fkey = core.config("federation_key");
  if (!fkey || fkey->empty())
    return make_error(kFatalConfig, "federation_key is not set: nodes authenticate each other with it");
  auto key = derive_key(*fkey);
  if (!key) return make_error(kFatalConfig, key.error().message);
  cfg.key = *key;
  if (auto b = core.config("bind")) cfg.bind = *b;
  if (Status s = cv::read_number(lookup, "listen_port", 0, 65535, cfg.listen_port); !s) return s.error();
  if (Status s = read_bool(core, "listen", cfg.listen); !s) return s.error();
  bool tls = true;
  if (Status s = read_bool(core, "tls", tls); !s) return s.error();
  if (!tls)
    return make_error(kFatalConfig,
                      "tls = false: federation links always use TLS (the authentication is bound to the TLS session)");
  cfg.tls.cert_file = core.config("tls_cert").value_or("");
  cfg.tls.key_file = core.config("tls_key").value_or("");
  cfg.tls.ca_file = core.config("tls_ca").value_or("");
  if (cfg.tls.cert_file.empty() || cfg.tls.key_file.empty())
    return make_error(kFatalConfig, "tls_cert and tls_key must name the node's certificate and key files");
  if (Status s = cv::read_number(lookup, "peer_workers", 1, 1024, cfg.peer_workers); !s) return s.error();
  if (auto t = core.config("threads_per_peer"); t && !core.config("peer_workers")) {  // the original's name
    if (Status s = cv::read_number(lookup, "threads_per_peer", 1, 1024, cfg.peer_workers); !s) return s.error();
  }
  if (Status s = cv::read_number(lookup, "peer_queue", 0, 1000000, cfg.peer_queue); !s) return s.error();
  if (Status s = cv::read_number(lookup, "max_hops", 1, 64, cfg.max_hops); !s) return s.error();
  if (Status s = cv::read_number(lookup, "max_frame", 64 * 1024, 1ull << 30, cfg.max_frame, cv::Units::size); !s)
    return s.error();
  if (Status s = read_ms(core, "request_timeout_ms", 10, 600000, cfg.request_timeout); !s) return s.error();
  if (Status s = read_ms(core, "ping_interval_ms", 50, 60000, cfg.ping_interval); !s) return s.error();
  if (Status s = read_ms(core, "dead_after_ms", 200, 600000, cfg.dead_after); !s) return s.error();
  if (Status s = read_ms(core, "reconnect_initial_ms", 10, 600000, cfg.backoff_initial); !s) return s.error();
  if (Status s = read_ms(core, "reconnect_max_ms", 10, 3600000, cfg.backoff_max); !s) return s.error();
  if (cfg.backoff_max < cfg.backoff_initial) cfg.backoff_max = cfg.backoff_initial;
  cfg.inbound_default_user = core.config("federation_inbound_default_user").value_or("");
  if (Status s = read_peer_sections(core, cfg); !s) return s.error();
  if (Status s = read_peer_keys(core, cfg); !s) return s.error();
  cfg.default_key = core.config("peer_default_key").value_or("");
  if (Status s = check_peers(cfg); !s) return s.error();
  return cfg;
}

milliseconds Backoff::next() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  milliseconds d = next_;
  next_ = std::min(max_, next_ * 2);
  std::uniform_int_distribution<long long> jitter(d.count() / 2, d.count());
  return milliseconds(jitter(rng));
}

}  // namespace portal::node

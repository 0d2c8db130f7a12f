// Paths on federated peers (README.md "Remote paths"): `/node/<peer>/<rest>` on
// this node is `<rest>` on the peer, so `ls`, `cd` and Tab completion ask the
// peer's own /core/ls and /core/resolve through the node module. When the node
// module is not loaded (or knows no such peer) the router answers 404/503 and
// the path is treated as a local one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "session.h"

namespace portal::cli {

inline constexpr std::string_view kNodeRoot = "/node";
inline constexpr std::string_view kPeersPath = "/node/resources/peers";

// A path under /node/<peer>: the peer, and the absolute path on the peer.
struct RemotePath {
  std::string peer;
  std::string path;
};

// `path` must be absolute and normalised (join_path); nullopt outside
// /node/<peer>.
std::optional<RemotePath> split_remote(std::string_view path);
// Where to ask the peer for one of its core paths: ("factory", "/core/ls") →
// "/node/factory/core/ls".
std::string peer_core_path(const std::string &peer, std::string_view core_path);
// The name this node gives a path on a peer: ("factory", "/iot") →
// "/node/factory/iot"; ("factory", "/") → "/node/factory".
std::string local_path_of(const RemotePath &remote);
// Peer names from a /node/resources/peers answer ("Connected peers:\n" then
// "  <name> ..." per peer, or "  (none)").
std::vector<std::string> parse_peer_names(std::string_view body);
// A /core/ls listing with the peers added as children that have children,
// ordered by name like the router orders it.
std::string listing_with_peers(std::string_view listing, const std::vector<std::string> &peers);

// GET /core/ls for `path` (absolute), on the peer when the path is remote;
// `then` gets the listing.
void list_path(Session &s, const std::string &path, Session::Then then);
// /core/resolve for `path` (absolute), on the peer when the path is remote;
// `then` gets the resolved local path as the body (404: no such path).
void resolve_path(Session &s, const std::string &path, Session::Then then);

}  // namespace portal::cli

// Remote paths through federation: splitting /node/<peer>/<rest>, rewriting to
// the peer's core paths, peer names, and listings with the peers added.
#include "federation.h"

#include <gtest/gtest.h>

namespace portal::cli {
namespace {

TEST(Federation, PathsUnderNodePeerAreRemote) {
  std::optional<RemotePath> r = split_remote("/node/factory/iot/devices");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->peer, "factory");
  EXPECT_EQ(r->path, "/iot/devices");
  r = split_remote("/node/factory");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->peer, "factory");
  EXPECT_EQ(r->path, "/");
  EXPECT_FALSE(split_remote("/node"));
  EXPECT_FALSE(split_remote("/node/"));
  EXPECT_FALSE(split_remote("/nodes/factory/iot"));
  EXPECT_FALSE(split_remote("/hello/node/factory"));
  EXPECT_FALSE(split_remote("/"));
}

TEST(Federation, RewrittenToThePeersCorePathsAndBack) {
  EXPECT_EQ(peer_core_path("factory", "/core/ls"), "/node/factory/core/ls");
  EXPECT_EQ(peer_core_path("factory", "/core/resolve"), "/node/factory/core/resolve");
  EXPECT_EQ(local_path_of({"factory", "/iot"}), "/node/factory/iot");
  EXPECT_EQ(local_path_of({"factory", "/"}), "/node/factory");
  // The round trip through join_path, as `cd ..` from a peer's folder goes.
  std::optional<RemotePath> r = split_remote(join_path("/node/factory/iot", "../core"));
  ASSERT_TRUE(r);
  EXPECT_EQ(local_path_of(*r), "/node/factory/core");
  EXPECT_FALSE(split_remote(join_path("/node/factory", "..")));
}

TEST(Federation, PeerNamesFromTheNodeModule) {
  EXPECT_EQ(parse_peer_names("Connected peers:\n"
                             "  factory          10.0.0.2:9700      [ready] outbound workers:0/4 msgs:1/1\n"
                             "  lab              (via hub)          [ready] indirect\n"),
            (std::vector<std::string>{"factory", "lab"}));
  EXPECT_TRUE(parse_peer_names("Connected peers:\n  (none)\n").empty());
  EXPECT_TRUE(parse_peer_names("").empty());
}

TEST(Federation, PeersJoinTheListingInNameOrder) {
  const std::string local =
      "  functions                     /\n"
      "  resources                     /\n";
  EXPECT_EQ(listing_with_peers(local, {"lab", "factory"}),
            "  factory                       /\n"
            "  functions                     /\n"
            "  lab                           /\n"
            "  resources                     /\n");
  EXPECT_EQ(listing_with_peers("  (empty)\n", {"factory"}), "  factory                       /\n");
  EXPECT_EQ(listing_with_peers("  (empty)\n", {}), "  (empty)\n");
  EXPECT_EQ(listing_with_peers("  factory                       /\n", {"factory"}),
            "  factory                       /\n")
      << "a peer the listing already shows is not listed twice";
}

}  // namespace
}  // namespace portal::cli

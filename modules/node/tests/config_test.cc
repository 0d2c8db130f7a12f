// The node module's settings and its redial backoff, on their own.
#include <gtest/gtest.h>

#include "node.h"
#include "testing/stub_router.h"

namespace portal::node {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "a-federation-key-of-forty-bytes-0123456";

// The settings every node needs.
void base_config(testing::StubRouter& core) {
  core.set_config("name", "office");
  core.set_config("federation_key", kKey);
  core.set_config("tls_cert", "/x/node.crt");
  core.set_config("tls_key", "/x/node.key");
}

// parse_config's refusal of a base config plus `key = value`.
std::string refusal(const std::string& key, const std::string& value) {
  testing::StubRouter core{"node"};
  base_config(core);
  core.set_config(key, value);
  auto c = parse_config(core);
  EXPECT_FALSE(c.ok()) << key;
  return c.ok() ? std::string() : c.error().message;
}

class NodeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { base_config(core); }
  std::string error() {
    auto c = parse_config(core);
    EXPECT_FALSE(c.ok());
    if (c.ok()) return {};
    EXPECT_EQ(c.error().code, kFatalConfig);
    return c.error().message;
  }
  testing::StubRouter core{"node"};
};

TEST_F(NodeConfigTest, DefaultsAndPeerSections) {
  core.set_config("peer:factory.host", "10.0.0.2");
  core.set_config("peer:factory.port", "9191");
  core.set_config("peer:factory.labels", "ops, admin");
  core.set_config("peer:plant.hub", "factory");
  core.set_config("peer_keys", "factory:KEY1, plant:KEY2");
  core.set_config("peer:plant.key", "KEY3");
  auto c = parse_config(core);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->name, "office");
  EXPECT_EQ(c->listen_port, 9090);
  EXPECT_EQ(c->peer_workers, 16u);
  EXPECT_EQ(c->max_hops, 8u);
  EXPECT_EQ(c->backoff_initial, 1000ms);
  EXPECT_EQ(c->backoff_max, 60000ms);
  ASSERT_EQ(c->peers.size(), 2u);
  const PeerConfig& f = c->peers.at("factory");
  EXPECT_EQ(f.host, "10.0.0.2");
  EXPECT_EQ(f.port, 9191);
  EXPECT_TRUE(f.auto_connect);
  EXPECT_EQ(f.key, "KEY1");
  EXPECT_EQ(f.labels, (std::vector<std::string>{"ops", "admin"}));
  const PeerConfig& p = c->peers.at("plant");
  EXPECT_EQ(p.hub, "factory");
  EXPECT_EQ(p.key, "KEY3");  // the section wins over peer_keys
  EXPECT_FALSE(p.auto_connect);  // no host: nothing to dial
}

TEST_F(NodeConfigTest, ConfigurationsThatCanNeverWorkAreRefusedWithTheirReason) {
  core.set_config("federation_key", "short");
  EXPECT_NE(error().find("federation_key must be at least 32 bytes"), std::string::npos);
  core.set_config("federation_key", kKey);
  core.set_config("tls", "false");
  EXPECT_NE(error().find("always use TLS"), std::string::npos);
  core.set_config("tls", "true");
  core.set_config("name", "bad name");
  EXPECT_NE(error().find("invalid name"), std::string::npos);
  core.set_config("name", "office");
  core.set_config("listen_port", "70000");
  EXPECT_NE(error().find("listen_port"), std::string::npos);
  core.set_config("listen_port", "9090");
  core.set_config("peer:factory.color", "blue");
  EXPECT_NE(error().find("[peer:factory] color: unknown setting"), std::string::npos);
}

TEST(NodeConfig, PeerSectionMistakes) {
  EXPECT_NE(refusal("peer:office.host", "127.0.0.1").find("own name"), std::string::npos);
  EXPECT_NE(refusal("peer:resources.host", "127.0.0.1").find("taken by /node/resources/"), std::string::npos);
  EXPECT_NE(refusal("peer:loop.hub", "loop").find("its own hub"), std::string::npos);
  EXPECT_NE(refusal("peer:x.port", "0").find("a port from 1 to 65535"), std::string::npos);
  EXPECT_NE(refusal("peer:bad name.host", "h").find("invalid peer name"), std::string::npos);
  EXPECT_NE(refusal("peer_keys", "factory").find("expected name:key"), std::string::npos);
}

// 1 s, doubling to the maximum, each wait in the upper half of its step; reset on success.
TEST(NodeBackoff, DoublesWithJitterUpToTheMaximumAndResets) {
  Backoff b(1000ms, 60000ms);
  std::vector<std::chrono::milliseconds> steps = {1000ms, 2000ms, 4000ms, 8000ms, 16000ms, 32000ms, 60000ms, 60000ms};
  for (auto step : steps) {
    auto wait = b.next();
    EXPECT_GE(wait, step / 2);
    EXPECT_LE(wait, step);
  }
  b.reset();
  EXPECT_LE(b.next(), 1000ms);
  bool varied = false;  // jitter: not every first wait is the same
  auto first = Backoff(1000ms, 60000ms).next();
  for (int i = 0; i < 20 && !varied; ++i) varied = Backoff(1000ms, 60000ms).next() != first;
  EXPECT_TRUE(varied);
}

}  // namespace
}  // namespace portal::node

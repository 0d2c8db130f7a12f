// Shared pieces of the federation integration tests: instances with the node module on
// loopback, one self-signed certificate for the whole suite, and waiting on a peer's status.
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "cert_dir.h"
#include "instance.h"

namespace portal::itest {

inline constexpr const char* kFederationKey = "federation-key-for-the-tests-0123456789abcdef";

// A loopback port free right now (bound, read, released).
inline std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string peer_section(const std::string& name, std::uint16_t port, const std::string& more = {}) {
  return "[peer:" + name + "]\nhost = 127.0.0.1\nport = " + std::to_string(port) + "\n" + more + "\n";
}

struct NodeSpec {
  std::string name;
  std::uint16_t port = 0;
  std::map<std::string, std::string> node;  // more [mod_node] settings
  std::string sections;                     // [peer:...] sections of portal.conf
  bool web = false;
  bool cli = false;
};

// Certificates for the suite, nodes started from a NodeSpec, waiting on a peer's status.
class NodeFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = make_cert_dir("portal-node-itest");
    ASSERT_FALSE(certs_.empty());
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(certs_); }

  static std::unique_ptr<Instance> node(const NodeSpec& s) {
    std::map<std::string, std::string> settings = {{"name", s.name},
                                                   {"federation_key", kFederationKey},
                                                   {"bind", "127.0.0.1"},
                                                   {"listen_port", std::to_string(s.port)},
                                                   {"tls_cert", certs_ + "/server.crt"},
                                                   {"tls_key", certs_ + "/server.key"},
                                                   {"assert_identity", "true"},
                                                   {"ping_interval_ms", "200"},
                                                   {"dead_after_ms", "1500"},
                                                   {"reconnect_initial_ms", "200"},
                                                   {"reconnect_max_ms", "1600"}};
    for (const auto& [k, v] : s.node) settings[k] = v;
    auto inst = std::make_unique<Instance>(std::vector<ModuleConf>{});
    std::vector<ModuleConf> mods = {{"hello", {}}, {"crashy", {}}, {"myapp", {}}, {"node", settings}};
    if (s.web) mods.push_back({"web", {{"port", "0"}, {"bind", "127.0.0.1"}}});
    if (s.cli) mods.push_back({"cli", {{"socket", inst->dir() + "/run/cli.sock"}, {"peer_users", "0:root"}}});
    inst->rewrite_config(mods);
    inst->set_extra_sections(s.sections);
    bool started = inst->start();
    EXPECT_TRUE(started) << inst->log();
    if (!started) {
      std::ifstream conf(inst->config_path());
      ADD_FAILURE() << "portal.conf:\n" << std::string(std::istreambuf_iterator<char>(conf), {});
    }
    return inst;
  }

  // Waits until `inst` lists `peer` with `status` ("ready", ...).
  static bool wait_peer(Instance& inst, const std::string& peer, const std::string& status = "ready",
                        std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    using namespace std::chrono_literals;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = inst.get("/node/resources/peer/" + peer);
      if (r && r->status == 200 && r->body.find("\nStatus: " + status + "\n") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  inline static std::string certs_;
};

}  // namespace portal::itest

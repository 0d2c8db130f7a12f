// The `portal` command as a user runs it, with the whole instance layout under a --prefix
// temporary folder: create, list, run as a daemon, reach it, delete (COMPAT.md 3.5).
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "instance.h"
#include "layout.h"
#include "portal_build_config.h"

namespace portal::instance {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::pair<int, std::string> run(const std::string& args) {
  std::string cmd = std::string(PORTAL_BUILD_ROOT) + "/tools/portal " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PortalCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portal-cmd-XXXXXX";
    prefix_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    for (const char* n : {"one", "two"}) run("--prefix " + prefix_ + " -D " + n);
    fs::remove_all(prefix_);
  }
  std::string p() const { return "--prefix " + prefix_ + " "; }
  std::string prefix_;
};

TEST_F(PortalCommand, CreateWritesAPrivateCompleteInstance) {
  auto [rc, out] = run(p() + "-C one");
  ASSERT_EQ(rc, 0) << out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("root API key:  ([0-9a-f]{64})\n"))) << out;
  std::string key = m[1];
  ASSERT_TRUE(std::regex_search(out, m, std::regex("root password: ([A-Za-z0-9]{16})\n"))) << out;
  Layout l{prefix_, "one"};
  std::string root = read(l.etc_dir() + "/users/root.conf");
  EXPECT_NE(root.find("api_key = " + key), std::string::npos);
  EXPECT_NE(root.find("groups = root,admin"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((l.etc_dir() + "/users/root.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(l.etc_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((l.certs_dir() + "/server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(read(l.etc_dir() + "/groups/admin.conf").find("description = Administrators"), std::string::npos);
  EXPECT_NE(read(l.modules_dir() + "/mod_web.conf").find("bind = 127.0.0.1"), std::string::npos);
  const std::string node = read(l.modules_dir() + "/mod_node.conf");
  EXPECT_NE(node.find("# [peer:factory]\n# host = "), std::string::npos) << node;
  EXPECT_NE(node.find("# hub = factory\n"), std::string::npos) << node;
  EXPECT_NE(node.find("\nassert_identity = true\n"), std::string::npos) << node;
  EXPECT_NE(node.find("\nenabled = false\n"), std::string::npos) << node;
  std::string unit = read(l.unit_file());
  EXPECT_NE(unit.find("Type=notify"), std::string::npos);
  EXPECT_NE(unit.find("NoNewPrivileges=yes"), std::string::npos);
  EXPECT_NE(unit.find(" -n one -f"), std::string::npos);
  // The certificate: self-signed, CN portal-one, valid now.
  FILE* f = std::fopen((l.certs_dir() + "/server.crt").c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "portal-one");
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  EXPECT_EQ(X509_verify(cert, pub), 1) << "signed by its own key";
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert)), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(cert)), 0);
  X509_free(cert);
  // Twice: refused, nothing overwritten.
  std::tie(rc, out) = run(p() + "-C one");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("exists"), std::string::npos) << out;
  EXPECT_NE(read(l.etc_dir() + "/users/root.conf").find(key), std::string::npos);
}

TEST_F(PortalCommand, SecondInstanceGetsOtherPortsAndTheTableShowsBoth) {
  ASSERT_EQ(run(p() + "-C one").first, 0);
  ASSERT_EQ(run(p() + "-C two").first, 0);
  auto [rc, out] = run(p() + "-s");
  EXPECT_EQ(rc, 0);
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(out, a, std::regex("\none +stopped +- +([0-9]+) +([0-9]+) "))) << out;
  ASSERT_TRUE(std::regex_search(out, b, std::regex("\ntwo +stopped +- +([0-9]+) +([0-9]+) "))) << out;
  EXPECT_NE(a[1], b[1]);
  EXPECT_NE(a[2], b[2]);
  EXPECT_EQ(out.rfind("INSTANCE         STATUS   PID      HTTP   HTTPS  NODE   MODULES\n", 0), 0u) << out;
}

TEST_F(PortalCommand, BadNamesAndArgumentsAreRefused) {
  for (const char* bad : {"../etc", "a/b", "\"a b\"", "-x", "toolongtoolongtoolongtoolongtoolong1"}) {
    auto [rc, out] = run(p() + "-C " + bad);
    EXPECT_EQ(rc, 2) << bad << ": " << out;
  }
  EXPECT_FALSE(fs::exists(prefix_ + "/etc/portal/../etc"));
  EXPECT_EQ(run(p() + "-C").first, 2);
  EXPECT_EQ(run(p() + "-C a -D b").first, 2);
  EXPECT_EQ(run("--bogus").first, 2);
  auto [rc, out] = run(p() + "-D nothere");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no instance"), std::string::npos);
  std::tie(rc, out) = run("-v");
  EXPECT_EQ(out, "Portal v" PORTAL_VERSION "\n");
  std::tie(rc, out) = run("--help");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("--prefix DIR"), std::string::npos);
}

TEST_F(PortalCommand, RunsAsADaemonAnswersAndDeleteStopsIt) {
  ASSERT_EQ(run(p() + "-C one").first, 0);
  auto [rc, out] = run(p() + "-n one");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Portal started (pid "), std::string::npos) << out;
  Layout l{prefix_, "one"};
  int pid = running_pid(l);
  ASSERT_GT(pid, 0);
  std::string ctl = std::string(PORTAL_BUILD_ROOT) + "/tools/portalctl -s " + l.ctl_socket() + " get /core/status";
  std::string status;
  for (int i = 0; i < 200 && status.rfind("Portal v", 0) != 0; ++i) {
    FILE* pp = ::popen((ctl + " 2>/dev/null").c_str(), "r");
    char buf[256] = {};
    status.assign(buf, std::fread(buf, 1, sizeof buf - 1, pp));
    ::pclose(pp);
    if (status.rfind("Portal v", 0) != 0) std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(status.rfind("Portal v", 0), 0u) << status;
  std::tie(rc, out) = run(p() + "-s");
  EXPECT_NE(out.find("one              running  " + std::to_string(pid)), std::string::npos) << out;
  std::tie(rc, out) = run(p() + "-n one");
  EXPECT_EQ(rc, 1) << "already running";
  std::tie(rc, out) = run(p() + "-D one");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(::kill(pid, 0), 0) << "portald stopped";
  EXPECT_FALSE(fs::exists(l.etc_dir()));
  EXPECT_TRUE(fs::exists(l.lib_dir())) << "data stays";
}

}  // namespace
}  // namespace portal::instance

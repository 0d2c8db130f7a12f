#include "supervisor/settings.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace portal::supervisor {
namespace {

// Roots pointing into the temp dir, so nothing of the host is looked at.
SearchRoots roots_in(const TempDir& t) { return SearchRoots{"", t / "installed", t / "libexec"}; }

class SettingsTest : public ::testing::Test {
 protected:
  // Every module referenced gets a library under modules_dir unless a test says otherwise.
  Result<Settings> load(const std::string& text, const std::string& file = "portal.conf") {
    std::string path = dir.write(file, text);
    return load_settings(path, roots_in(dir));
  }
  Settings load_ok(const std::string& text, const std::string& file = "portal.conf") {
    auto s = load(text, file);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : Settings{};
  }
  std::string load_error(const std::string& text, const std::string& file = "portal.conf") {
    auto s = load(text, file);
    EXPECT_FALSE(s.ok());
    return s.ok() ? "" : s.error().message;
  }
  void add_library(const std::string& name) { dir.write("mods/mod_" + name + ".so", "elf"); }

  TempDir dir;
};

TEST_F(SettingsTest, CoreDefaults) {
  Settings s = load_ok("[core]\n");
  EXPECT_EQ(s.core.config_file, dir / "portal.conf");
  EXPECT_EQ(s.core.data_dir, dir.path());
  EXPECT_EQ(s.core.log_dir, dir / "log");
  EXPECT_EQ(s.core.run_dir, dir / "run");
  EXPECT_EQ(s.core.socket_path, dir / "run/portal.sock");
  EXPECT_EQ(s.core.ctl_socket, dir / "run/portalctl.sock");
  EXPECT_EQ(s.core.log_level, "info");
  EXPECT_EQ(s.core.request_timeout_ms, 30000u);
  EXPECT_EQ(s.core.drain_ms, 5000u);
  EXPECT_TRUE(s.modules.empty());
}

TEST_F(SettingsTest, ModuleDefaults) {
  add_library("hello");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = hello\n");
  ASSERT_EQ(s.modules.size(), 1u);
  const ModuleSettings& m = s.modules[0];
  EXPECT_EQ(m.name, "hello");
  EXPECT_EQ(m.isolation, Isolation::process);
  EXPECT_EQ(m.restart, RestartMode::on_failure);
  EXPECT_EQ(m.transport, Transport::ring);
  EXPECT_EQ(m.threads, 2u);
  EXPECT_EQ(m.timeout_ms, 30000u);
  EXPECT_EQ(m.queue_limit, 1024u);
  EXPECT_EQ(m.ring_bytes, 1u << 20);
  EXPECT_EQ(m.busy_poll_us, 0u);
  EXPECT_TRUE(m.hardening.no_new_privs);
  EXPECT_TRUE(m.hardening.run_as.empty());
  EXPECT_FALSE(m.hardening.limit_nofile);
  EXPECT_EQ(m.limits, RestartLimits{});
  EXPECT_EQ(m.limits.backoff_initial.count(), 100);
  EXPECT_EQ(m.limits.backoff_max.count(), 30000);
  EXPECT_EQ(m.limits.crash_limit, 5u);
  EXPECT_EQ(m.limits.crash_window.count(), 10000);
  EXPECT_EQ(m.limits.healthy_reset.count(), 60000);
  EXPECT_EQ(m.library, dir / "mods/mod_hello.so");
  EXPECT_TRUE(m.library_error.empty());
}

TEST_F(SettingsTest, EveryModuleKey) {
  add_library("a");
  Settings s = load_ok(
      "[core]\nmodules_dir = mods\nrequest_timeout_ms = 1500\n[modules]\nload = a\n"
      "[mod_a]\nisolation = inprocess\nrestart = always\nthreads = 8\nqueue_limit = 10\n"
      "ring_bytes = 5000\nbusy_poll_us = 50\ntransport = uds\nrun_as = nobody:nogroup\n"
      "no_new_privs = false\nlimit_nofile = 256\nlimit_memory = 512M\ngreeting = hi\n");
  const ModuleSettings& m = s.modules.at(0);
  EXPECT_EQ(m.isolation, Isolation::inprocess);
  EXPECT_EQ(m.restart, RestartMode::always);
  EXPECT_EQ(m.threads, 8u);
  EXPECT_EQ(m.timeout_ms, 1500u);  // from [core] request_timeout_ms
  EXPECT_EQ(m.queue_limit, 10u);
  EXPECT_EQ(m.ring_bytes, 8192u);  // rounded up to a power of two
  EXPECT_EQ(m.busy_poll_us, 50u);
  EXPECT_EQ(m.transport, Transport::uds);
  EXPECT_EQ(m.hardening.run_as, "nobody:nogroup");
  EXPECT_FALSE(m.hardening.no_new_privs);
  EXPECT_EQ(m.hardening.limit_nofile, 256u);
  EXPECT_EQ(m.hardening.limit_memory, 512ull << 20);
  EXPECT_EQ(m.values.at("greeting"), "hi");
  EXPECT_EQ(m.values.at("threads"), "8");
}

TEST_F(SettingsTest, RestartLimitKeys) {
  add_library("a");
  Settings s = load_ok(
      "[core]\nmodules_dir = mods\n[modules]\nload = a\n"
      "[mod_a]\nbackoff_initial_ms = 0\nbackoff_max_ms = 2000\ncrash_limit = 0\ncrash_window_ms = 500\n"
      "healthy_reset_ms = 7000\n");
  const RestartLimits& l = s.modules.at(0).limits;
  EXPECT_EQ(l.backoff_initial.count(), 0);
  EXPECT_EQ(l.backoff_max.count(), 2000);
  EXPECT_EQ(l.crash_limit, 0u);
  EXPECT_EQ(l.crash_window.count(), 500);
  EXPECT_EQ(l.healthy_reset.count(), 7000);
  EXPECT_EQ(s.modules.at(0).values.at("crash_limit"), "0");  // still passed on to the module
}

TEST_F(SettingsTest, RestartLimitsFromModuleFile) {
  add_library("a");
  dir.write("modules/mod_a.conf", "crash_limit = 9\nbackoff_initial_ms = 50\n");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = a\n[mod_a]\ncrash_limit = 2\n");
  EXPECT_EQ(s.modules.at(0).limits.crash_limit, 9u);
  EXPECT_EQ(s.modules.at(0).limits.backoff_initial.count(), 50);
}

TEST_F(SettingsTest, BackoffInitialAboveMaxNamesTheKeySet) {
  add_library("a");
  std::string base = "[core]\nmodules_dir = mods\n[modules]\nload = a\n[mod_a]\n";
  std::string err = load_error(base + "backoff_initial_ms = 40000\n");
  std::string want =
      dir / "portal.conf:6: [mod_a] backoff_initial_ms: expected at most backoff_max_ms (30000), got '40000'";
  EXPECT_NE(err.find(want), std::string::npos) << err;
  err = load_error(base + "backoff_initial_ms = 500\nbackoff_max_ms = 200\n");
  EXPECT_NE(err.find(":7: [mod_a] backoff_max_ms: expected at least backoff_initial_ms (500), got '200'"),
            std::string::npos)
      << err;
  load_ok(base + "backoff_initial_ms = 0\nbackoff_max_ms = 0\n");
}

TEST_F(SettingsTest, TimeoutOverride) {
  add_library("a");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = a\n[mod_a]\ntimeout_ms = 250\n");
  EXPECT_EQ(s.modules.at(0).timeout_ms, 250u);
}

struct BadValue {
  const char* text;
  const char* expect_in_error;
};

class SettingsBadValue : public SettingsTest, public ::testing::WithParamInterface<BadValue> {};

TEST_P(SettingsBadValue, NamesFileAndLine) {
  add_library("a");
  std::string text = std::string("[core]\nmodules_dir = mods\n[modules]\nload = a\n") + GetParam().text;
  std::string err = load_error(text);
  EXPECT_NE(err.find(dir / "portal.conf"), std::string::npos) << err;
  EXPECT_NE(err.find(GetParam().expect_in_error), std::string::npos) << err;
}

INSTANTIATE_TEST_SUITE_P(
    All, SettingsBadValue,
    ::testing::Values(BadValue{"[mod_a]\nthreads = abc\n", "portal.conf:6: [mod_a] threads"},
                      BadValue{"[mod_a]\nthreads = 0\n", ":6: [mod_a] threads"},
                      BadValue{"[mod_a]\nisolation = thread\n", ":6: [mod_a] isolation: expected process|inprocess"},
                      BadValue{"[mod_a]\nrestart = sometimes\n", ":6: [mod_a] restart"},
                      BadValue{"[mod_a]\ntransport = tcp\n", ":6: [mod_a] transport"},
                      BadValue{"[mod_a]\nring_bytes = 12\n", ":6: [mod_a] ring_bytes"},
                      BadValue{"[mod_a]\nqueue_limit = -1\n", ":6: [mod_a] queue_limit"},
                      BadValue{"[mod_a]\nno_new_privs = maybe\n", ":6: [mod_a] no_new_privs"},
                      BadValue{"[mod_a]\nlimit_memory = lots\n", ":6: [mod_a] limit_memory"},
                      BadValue{"[mod_a]\nrun_as = :wheel\n", ":6: [mod_a] run_as"},
                      BadValue{"[mod_a]\nbusy_poll_us = 1.5\n", ":6: [mod_a] busy_poll_us"},
                      BadValue{"[mod_a]\nbackoff_initial_ms = -1\n", ":6: [mod_a] backoff_initial_ms: expected"},
                      BadValue{"[mod_a]\nbackoff_max_ms = 1s\n", ":6: [mod_a] backoff_max_ms: expected an integer"},
                      BadValue{"[mod_a]\nbackoff_max_ms = 86400001\n", ":6: [mod_a] backoff_max_ms"},
                      BadValue{"[mod_a]\ncrash_limit = many\n", "[mod_a] crash_limit: expected an integer from 0"},
                      BadValue{"[mod_a]\ncrash_limit = 1001\n", ":6: [mod_a] crash_limit"},
                      BadValue{"[mod_a]\ncrash_window_ms = 0\n", "[mod_a] crash_window_ms: expected an integer from 1"},
                      BadValue{"[mod_a]\nhealthy_reset_ms = 1.5\n", ":6: [mod_a] healthy_reset_ms"},
                      BadValue{"[core]\nlog_level = loud\n", ":6: [core] log_level"},
                      BadValue{"[core]\nrequest_timeout_ms = 0\n", ":6: [core] request_timeout_ms"},
                      BadValue{"[core]\ninstance = a/b\n", ":6: [core] instance"},
                      BadValue{"load = ../evil\n", ":5: [modules] load: invalid module name"},
                      BadValue{"[mod_a\n", ":5: unterminated section header"}));

TEST_F(SettingsTest, BadValueInModuleFileNamesThatFile) {
  add_library("a");
  dir.write("modules/mod_a.conf", "# defaults\nthreads = many\n");
  std::string err = load_error("[core]\nmodules_dir = mods\n[modules]\nload = a\n");
  EXPECT_NE(err.find(dir / "modules/mod_a.conf:2: [mod_a] threads"), std::string::npos) << err;
}

TEST_F(SettingsTest, PerModuleFilesOverrideInOrder) {
  add_library("x");
  dir.write("modules/core/mod_x.conf", "[mod_x]\nb = core\nc = core\n");
  dir.write("modules/mod_x.conf", "c = modules\n");  // header is optional
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = x\n[mod_x]\na = main\nb = main\nc = main\n");
  const auto& v = s.modules.at(0).values;
  EXPECT_EQ(v.at("a"), "main");
  EXPECT_EQ(v.at("b"), "core");
  EXPECT_EQ(v.at("c"), "modules");
  EXPECT_EQ(s.flat.at("mod_x.c"), "modules");
  EXPECT_EQ(s.flat.at("mod_x.a"), "main");
}

// Values set at runtime (/core/config/set) live in settings/, escaped by the store; they
// win over every config file, and a settings file alone never starts a module.
TEST_F(SettingsTest, RuntimeSettingsWinAndNeverStartAModule) {
  add_library("x");
  add_library("y");
  dir.write("modules/mod_x.conf", "greeting = from file\nport = 1\n");
  dir.write("settings/mod_x.conf", "# Portal auto-generated config\n[mod_x]\ngreeting = line\\none\\x20\n");
  dir.write("settings/mod_y.conf", "[mod_y]\nk = v\n");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = x\n");
  ASSERT_EQ(s.modules.size(), 1u);
  EXPECT_EQ(s.modules.at(0).name, "x");
  EXPECT_EQ(s.modules.at(0).values.at("greeting"), "line\none ");
  EXPECT_EQ(s.modules.at(0).values.at("port"), "1");
  EXPECT_EQ(s.flat.at("mod_x.greeting"), "line\none ");
}

TEST_F(SettingsTest, ModuleFileSectionsOfOthersAreIgnoredWithAWarning) {
  add_library("x");
  dir.write("modules/mod_x.conf", "k = 1\n[core]\nlog_level = debug\n");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = x\n");
  EXPECT_EQ(s.core.log_level, "info");
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("mod_x.conf:3"), std::string::npos) << s.warnings[0];
}

// The node module's peers: "[peer:NAME]" in portal.conf or in mod_node.conf reaches it as
// "peer:NAME.key"; the module's own file wins; other modules never see them.
TEST_F(SettingsTest, PeerSectionsReachTheNodeModule) {
  add_library("node");
  add_library("x");
  dir.write("modules/mod_node.conf", "[mod_node]\nname = office\n[peer:hub]\nhost = 127.0.0.2\n");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = node\nload = x\n"
                       "[peer:hub]\nhost = 10.0.0.1\nport = 9091\n[peer:factory]\nhub = hub\n");
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.at(0);
  const auto& node = s.modules.at(0).values;
  EXPECT_EQ(node.at("name"), "office");
  EXPECT_EQ(node.at("peer:hub.host"), "127.0.0.2");
  EXPECT_EQ(node.at("peer:hub.port"), "9091");
  EXPECT_EQ(node.at("peer:factory.hub"), "hub");
  EXPECT_EQ(s.modules.at(1).values.count("peer:hub.host"), 0u);
}

TEST_F(SettingsTest, FilePresenceLoadsUnlessDisabled) {
  for (const char* n : {"a", "b", "c", "d", "e"}) add_library(n);
  dir.write("modules/core/mod_d.conf", "enabled = true\n");
  dir.write("modules/core/mod_c.conf", "x = 1\n");
  dir.write("modules/mod_a.conf", "x = 1\n");  // already loaded explicitly
  dir.write("modules/mod_b.conf", "enabled = false\n");
  dir.write("modules/mod_e.conf", "enabled = yes\n");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = a\nload = a\n");
  std::vector<std::string> names;
  for (const auto& m : s.modules) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "c", "d", "e"}));
}

TEST_F(SettingsTest, ExplicitLoadIgnoresEnabled) {
  add_library("b");
  dir.write("modules/mod_b.conf", "enabled = false\n");
  Settings s = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = b\n");
  ASSERT_EQ(s.modules.size(), 1u);
}

TEST_F(SettingsTest, RelativePathsResolveAgainstConfigDir) {
  Settings s = load_ok("[core]\ndata_dir = data\nlog_dir = ../logs\nrun_dir = /abs/run\nsocket_path = s.sock\n",
                       "etc/portal.conf");
  EXPECT_EQ(s.core.data_dir, dir / "etc/data");
  EXPECT_EQ(s.core.log_dir, dir / "logs");
  EXPECT_EQ(s.core.run_dir, "/abs/run");
  EXPECT_EQ(s.core.socket_path, dir / "etc/s.sock");
  EXPECT_EQ(s.core.ctl_socket, "/abs/run/portalctl.sock");
  EXPECT_EQ(s.flat.at("core.data_dir"), dir / "etc/data");
  EXPECT_EQ(s.flat.at("core.socket_path"), dir / "etc/s.sock");
}

TEST_F(SettingsTest, ModuleFilesLiveUnderDataDir) {
  add_library("m");
  dir.write("var/modules/mod_m.conf", "k = v\n");
  Settings s = load_ok("[core]\ndata_dir = var\nmodules_dir = mods\n");
  ASSERT_EQ(s.modules.size(), 1u);
  EXPECT_EQ(s.modules[0].values.at("k"), "v");
}

TEST_F(SettingsTest, InstanceName) {
  EXPECT_EQ(load_ok("[core]\n", "edge.conf").core.instance, "edge");
  EXPECT_EQ(load_ok("[core]\n", "prod/portal.conf").core.instance, "prod");
  EXPECT_EQ(load_ok("[core]\ninstance = lab\n", "prod/portal.conf").core.instance, "lab");
}

TEST_F(SettingsTest, LibraryLookup) {
  dir.write("mods/nested/mod_nested.so", "elf");
  dir.write("mods/mod_flat.so", "elf");
  dir.write("lib/custom.so", "elf");
  Settings s = load_ok(
      "[core]\nmodules_dir = mods\n[modules]\nload = nested\nload = flat\nload = custom\nload = missing\n"
      "[mod_custom]\nlibrary = lib/custom.so\n");
  EXPECT_EQ(s.find("nested")->library, dir / "mods/nested/mod_nested.so");
  EXPECT_EQ(s.find("flat")->library, dir / "mods/mod_flat.so");
  EXPECT_EQ(s.find("custom")->library, dir / "lib/custom.so");
  const ModuleSettings* missing = s.find("missing");
  EXPECT_TRUE(missing->library.empty());
  EXPECT_NE(missing->library_error.find("module 'missing'"), std::string::npos);
  EXPECT_NE(missing->library_error.find(dir / "mods/missing/mod_missing.so"), std::string::npos);
  EXPECT_NE(missing->library_error.find(dir / "mods/mod_missing.so"), std::string::npos);
  EXPECT_NE(missing->library_error.find(dir / "installed/mod_missing.so"), std::string::npos);
}

TEST_F(SettingsTest, BuildTreeLookup) {
  dir.write("build/modules/hello/mod_hello.so", "elf");
  std::string path = dir.write("portal.conf", "[modules]\nload = hello\n");
  auto s = load_settings(path, SearchRoots{dir / "build", dir / "installed", ""});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->modules.at(0).library, dir / "build/modules/hello/mod_hello.so");
}

TEST_F(SettingsTest, ExplicitLibraryMissing) {
  Settings s = load_ok("[modules]\nload = a\n[mod_a]\nlibrary = /nonexistent/a.so\n");
  EXPECT_NE(s.modules.at(0).library_error.find("/nonexistent/a.so"), std::string::npos);
}

TEST_F(SettingsTest, ParseBytes) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_bytes("4096", v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(parse_bytes("64K", v));
  EXPECT_EQ(v, 65536u);
  EXPECT_TRUE(parse_bytes("2g", v));
  EXPECT_EQ(v, 2ull << 30);
  EXPECT_FALSE(parse_bytes("", v));
  EXPECT_FALSE(parse_bytes("M", v));
  EXPECT_FALSE(parse_bytes("1.5M", v));
  EXPECT_FALSE(parse_bytes("99999999999999999999", v));
}

TEST_F(SettingsTest, DiffClassifiesModules) {
  for (const char* n : {"keep", "change", "drop", "add"}) add_library(n);
  Settings before = load_ok(
      "[core]\nmodules_dir = mods\n[modules]\nload = keep\nload = change\nload = drop\n"
      "[mod_keep]\nk = 1\n[mod_change]\nthreads = 2\n");
  Settings after = load_ok(
      "[core]\nmodules_dir = mods\nlog_level = debug\n[modules]\nload = add\nload = change\nload = keep\n"
      "[mod_keep]\nk = 1\n[mod_change]\nthreads = 4\n");
  ConfigDiff d = diff_modules(before, after);
  EXPECT_EQ(d.added, std::vector<std::string>{"add"});
  EXPECT_EQ(d.removed, std::vector<std::string>{"drop"});
  EXPECT_EQ(d.changed, std::vector<std::string>{"change"});
  EXPECT_EQ(d.unchanged, std::vector<std::string>{"keep"});
}

TEST_F(SettingsTest, DiffSeesChangesFromModuleFilesAndDefaults) {
  add_library("m");
  Settings before = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = m\n");
  dir.write("modules/mod_m.conf", "greeting = hello\n");
  Settings after_file = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = m\n");
  EXPECT_EQ(diff_modules(before, after_file).changed, std::vector<std::string>{"m"});
  // A new [core] default timeout changes the module's effective deadline.
  Settings after_core = load_ok("[core]\nmodules_dir = mods\nrequest_timeout_ms = 10\n[modules]\nload = m\n");
  EXPECT_EQ(diff_modules(after_file, after_core).changed, std::vector<std::string>{"m"});
  EXPECT_TRUE(diff_modules(after_core, after_core).changed.empty());
}

TEST_F(SettingsTest, DiffSeesRestartLimitChanges) {
  for (const char* n : {"a", "b"}) add_library(n);
  std::string base = "[core]\nmodules_dir = mods\n[modules]\nload = a\nload = b\n";
  Settings before = load_ok(base);
  for (const char* key : {"backoff_initial_ms = 5", "backoff_max_ms = 500", "crash_limit = 0", "crash_window_ms = 5",
                          "healthy_reset_ms = 5"}) {
    Settings after = load_ok(base + "[mod_a]\n" + key + "\n");
    EXPECT_EQ(diff_modules(before, after).changed, std::vector<std::string>{"a"}) << key;
    EXPECT_EQ(diff_modules(before, after).unchanged, std::vector<std::string>{"b"}) << key;
  }
  // Spelling out a default is no change to the policy, but the module sees a new key.
  Settings same = load_ok(base + "[mod_a]\ncrash_limit = 5\n");
  EXPECT_EQ(same.modules.at(0).limits, before.modules.at(0).limits);
}

TEST_F(SettingsTest, TextStandsInForAFile) {
  add_library("a");
  std::string text = "[core]\nmodules_dir = mods\ndata_dir = data\n[modules]\nload = a\n[mod_a]\nk = v\n";
  auto s = load_settings_text(text, dir / "virtual.conf", roots_in(dir));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "virtual.conf"));
  EXPECT_EQ(s->core.config_file, dir / "virtual.conf");
  EXPECT_EQ(s->core.config_text, text);
  EXPECT_EQ(s->core.instance, "virtual");
  EXPECT_EQ(s->core.data_dir, dir / "data");
  EXPECT_EQ(s->modules.at(0).library, dir / "mods/mod_a.so");
  EXPECT_EQ(s->flat.at("mod_a.k"), "v");
  // The same result as the file would give.
  Settings from_file = load_ok(text, "virtual.conf");
  EXPECT_EQ(from_file.flat, s->flat);
  EXPECT_TRUE(from_file.core.config_text.empty());

  auto bad = load_settings_text("[mod_a]\nthreads = lots\n[modules]\nload = a\n", dir / "virtual.conf", roots_in(dir));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(dir / "virtual.conf:2: [mod_a] threads"), std::string::npos)
      << bad.error().message;
}

TEST_F(SettingsTest, ReloadReadsFromTheSameSource) {
  add_library("a");
  add_library("b");
  auto text = load_settings_text("[core]\nmodules_dir = mods\n[modules]\nload = a\n", dir / "t.conf", roots_in(dir));
  ASSERT_TRUE(text.ok());
  // A file of that name appearing later does not replace the text...
  dir.write("t.conf", "[core]\nmodules_dir = mods\n[modules]\nload = b\n");
  auto again = reload_settings(text->core, roots_in(dir));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->modules.at(0).name, "a");
  // ...while a file-based configuration is read again from the file.
  Settings file = load_ok("[core]\nmodules_dir = mods\n[modules]\nload = a\n", "f.conf");
  dir.write("f.conf", "[core]\nmodules_dir = mods\n[modules]\nload = b\n");
  auto reread = reload_settings(file.core, roots_in(dir));
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->modules.at(0).name, "b");
}

}  // namespace
}  // namespace portal::supervisor

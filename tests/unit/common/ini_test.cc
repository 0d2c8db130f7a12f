// modsdk/common INI parser (COMPAT.md 1.10) and parse_bool.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/ini.h"

namespace portal::config {
namespace {

Ini parse_ok(std::string_view text) {
  auto r = parse_ini(text, "test.conf");
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : Ini{};
}

std::string parse_error(std::string_view text, std::string_view file = "portal.conf") {
  auto r = parse_ini(text, file);
  EXPECT_FALSE(r) << "parsed although malformed";
  return r ? std::string() : r.error().message;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "portal-ini-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Ini, SectionsKeysAndValues) {
  Ini ini = parse_ok(
      "[core]\n"
      "data_dir = /var/lib/portal\n"
      "log_level=debug\n"
      "\n"
      "[mod_web]\n"
      "  port   =   8080  \n");
  EXPECT_EQ(ini.get("core", "data_dir").value_or("?"), "/var/lib/portal");
  EXPECT_EQ(ini.get("core", "log_level").value_or("?"), "debug");
  EXPECT_EQ(ini.get("mod_web", "port").value_or("?"), "8080");  // both sides trimmed
  EXPECT_FALSE(ini.get("core", "port"));
  EXPECT_FALSE(ini.get("nope", "data_dir"));
  EXPECT_EQ(ini.get_or("core", "missing", "fallback"), "fallback");
  EXPECT_EQ(ini.get_or("core", "log_level", "fallback"), "debug");
  EXPECT_TRUE(ini.has_section("core"));
  EXPECT_FALSE(ini.has_section("mod_cli"));
  EXPECT_EQ(ini.sections(), (std::vector<std::string>{"core", "mod_web"}));
}

TEST(Ini, EntriesRememberFileAndLine) {
  Ini ini = parse_ok("# header\n[core]\n\nkey = v\n");
  ASSERT_EQ(ini.entries().size(), 1u);
  const IniEntry& e = ini.entries()[0];
  EXPECT_EQ(e.section, "core");
  EXPECT_EQ(e.key, "key");
  EXPECT_EQ(e.value, "v");
  EXPECT_EQ(e.file, "test.conf");
  EXPECT_EQ(e.line, 4);
}

TEST(Ini, FullLineCommentsBothStyles) {
  Ini ini = parse_ok(
      "# hash comment\n"
      "; semicolon comment\n"
      "   # indented comment\n"
      "[core]\n"
      "#commented = out\n"
      "key = value # not a comment: comments are full-line only\n");
  EXPECT_FALSE(ini.get("core", "#commented"));
  EXPECT_EQ(ini.get("core", "key").value_or("?"), "value # not a comment: comments are full-line only");
  EXPECT_EQ(ini.entries().size(), 1u);
}

TEST(Ini, RepeatedKeysAreAllKeptAndTheLastWins) {
  Ini ini = parse_ok(
      "[modules]\n"
      "load = cli\n"
      "load = web\n"
      "[other]\n"
      "load = elsewhere\n"
      "[modules]\n"
      "load = cache\n");
  EXPECT_EQ(ini.get_all("modules", "load"), (std::vector<std::string>{"cli", "web", "cache"}));
  EXPECT_EQ(ini.get("modules", "load").value_or("?"), "cache");
  EXPECT_EQ(ini.section("modules").at("load"), "cache");
  EXPECT_EQ(ini.flatten().at("modules.load"), "cache");
  EXPECT_EQ(ini.sections(), (std::vector<std::string>{"modules", "other"}));  // first appearance
  EXPECT_TRUE(ini.get_all("modules", "absent").empty());
}

TEST(Ini, KeysBeforeAnySectionBelongToTheEmptySection) {
  Ini ini = parse_ok("top = 1\n[core]\nx = 2\n");
  EXPECT_EQ(ini.get("", "top").value_or("?"), "1");
  auto flat = ini.flatten();
  EXPECT_EQ(flat.at(".top"), "1");  // COMPAT.md 1.10: keys before any section -> ".key"
  EXPECT_EQ(flat.at("core.x"), "2");
  EXPECT_EQ(flat.size(), 2u);
}

TEST(Ini, EmptySectionIsStillASection) {
  Ini ini = parse_ok("[nodes]\n[core]\na = b\n");
  EXPECT_TRUE(ini.has_section("nodes"));
  EXPECT_TRUE(ini.section("nodes").empty());
  EXPECT_EQ(ini.sections(), (std::vector<std::string>{"nodes", "core"}));
}

TEST(Ini, ValuesMayContainEqualsAndBeEmpty) {
  Ini ini = parse_ok("[s]\nurl = http://h/?a=b&c=d\nempty =\nspaced = a b  c\n");
  EXPECT_EQ(ini.get("s", "url").value_or("?"), "http://h/?a=b&c=d");
  EXPECT_EQ(ini.get("s", "empty").value_or("?"), "");
  EXPECT_EQ(ini.get("s", "spaced").value_or("?"), "a b  c");
}

TEST(Ini, SectionNameIsTrimmed) {
  Ini ini = parse_ok("[  core  ]\nk = v\n");
  EXPECT_EQ(ini.get("core", "k").value_or("?"), "v");
}

TEST(Ini, CrlfLineEndings) {
  Ini ini = parse_ok("[core]\r\nkey = value\r\nother=x\r\n\r\n# c\r\n[b]\r\nz = 1");
  EXPECT_EQ(ini.get("core", "key").value_or("?"), "value");  // no trailing \r
  EXPECT_EQ(ini.get("core", "other").value_or("?"), "x");
  EXPECT_EQ(ini.get("b", "z").value_or("?"), "1");
  EXPECT_EQ(ini.entries().back().line, 7);
}

TEST(Ini, LastLineWithoutNewlineAndEmptyInput) {
  EXPECT_EQ(parse_ok("[a]\nk = v").get("a", "k").value_or("?"), "v");
  EXPECT_TRUE(parse_ok("").entries().empty());
  EXPECT_TRUE(parse_ok("\n\n  \n").entries().empty());
}

// ---------------------------------------------------------------------------------------
// Malformed input: the error names file and line.

TEST(IniMalformed, LineWithoutEquals) {
  std::string e = parse_error("[core]\nkey = ok\njust some words\n");
  EXPECT_EQ(e.rfind("portal.conf:3: ", 0), 0u) << e;
}

TEST(IniMalformed, UnterminatedSection) {
  std::string e = parse_error("# c\n[core\nk = v\n");
  EXPECT_EQ(e.rfind("portal.conf:2: ", 0), 0u) << e;
  EXPECT_NE(e.find("section"), std::string::npos) << e;
}

TEST(IniMalformed, EmptyOrInvalidSectionName) {
  EXPECT_EQ(parse_error("[]\n").rfind("portal.conf:1: ", 0), 0u);
  EXPECT_EQ(parse_error("\n[   ]\n").rfind("portal.conf:2: ", 0), 0u);
  EXPECT_EQ(parse_error("[a]b]\n").rfind("portal.conf:1: ", 0), 0u);
}

TEST(IniMalformed, EmptyKey) {
  std::string e = parse_error("[core]\n= value\n");
  EXPECT_EQ(e.rfind("portal.conf:2: ", 0), 0u) << e;
}

TEST(IniMalformed, NulByte) {
  std::string text = "[core]\nkey = va";
  text += '\0';
  text += "lue\n";
  std::string e = parse_error(text);
  EXPECT_EQ(e.rfind("portal.conf:2: ", 0), 0u) << e;
  EXPECT_NE(e.find("NUL"), std::string::npos) << e;
}

TEST(IniMalformed, LineLongerThan64KiB) {
  std::string text = "[core]\n\nkey = " + std::string(64 * 1024, 'x') + "\n";
  std::string e = parse_error(text);
  EXPECT_EQ(e.rfind("portal.conf:3: ", 0), 0u) << e;
  // Just below the limit still parses.
  std::string fits = "[core]\nkey = " + std::string(64 * 1024 - 6, 'x') + "\n";
  EXPECT_EQ(parse_ok(fits).get("core", "key")->size(), 64u * 1024 - 6);
}

TEST(IniMalformed, LineNumbersCountCommentsBlanksAndCrlf) {
  std::string e = parse_error("# one\r\n\r\n[core]\r\n; four\r\nbroken\r\n");
  EXPECT_EQ(e.rfind("portal.conf:5: ", 0), 0u) << e;
}

TEST(IniMalformed, ErrorNamesTheFileItWasGiven) {
  std::string e = parse_error("oops\n", "/etc/portal/x/modules/mod_web.conf");
  EXPECT_EQ(e.rfind("/etc/portal/x/modules/mod_web.conf:1: ", 0), 0u) << e;
}

// ---------------------------------------------------------------------------------------
// Files

TEST(IniFile, LoadNamesThePathInEntriesAndErrors) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string good = dir.write("portal.conf", "[core]\nk = v\n");
  auto ini = load_ini_file(good);
  ASSERT_TRUE(ini) << ini.error().message;
  EXPECT_EQ(ini->get("core", "k").value_or("?"), "v");
  EXPECT_EQ(ini->entries()[0].file, good);

  std::string bad = dir.write("bad.conf", "[core]\n\n\nnonsense\n");
  auto r = load_ini_file(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind(bad + ":4: ", 0), 0u) << r.error().message;
}

TEST(IniFile, MissingFileIsAnError) {
  TempDir dir;
  auto r = load_ini_file(dir.path() + "/absent.conf");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("absent.conf"), std::string::npos) << r.error().message;
}

TEST(IniFile, DefaultSectionForModuleFiles) {
  TempDir dir;
  std::string p = dir.write("mod_web.conf", "enabled = true\nport = 8080\n[mod_web]\nport = 9090\n[other]\nx = 1\n");
  auto ini = load_ini_file(p, "mod_web");
  ASSERT_TRUE(ini) << ini.error().message;
  EXPECT_EQ(ini->get("mod_web", "enabled").value_or("?"), "true");
  EXPECT_EQ(ini->get_all("mod_web", "port"), (std::vector<std::string>{"8080", "9090"}));
  EXPECT_EQ(ini->get("other", "x").value_or("?"), "1");
  EXPECT_FALSE(ini->get("", "enabled"));
  EXPECT_EQ(ini->flatten().at("mod_web.enabled"), "true");
}

// ---------------------------------------------------------------------------------------

TEST(ParseBool, AcceptedSpellings) {
  for (const char* t : {"true", "yes", "on", "1"}) {
    bool b = false;
    EXPECT_TRUE(parse_bool(t, b)) << t;
    EXPECT_TRUE(b) << t;
  }
  for (const char* f : {"false", "no", "off", "0"}) {
    bool b = true;
    EXPECT_TRUE(parse_bool(f, b)) << f;
    EXPECT_FALSE(b) << f;
  }
}

TEST(ParseBool, AnythingElseIsRefusedAndLeavesTheValue) {
  for (const char* x : {"", "2", "maybe", "enabled", " true", "true ", "y", "n", "truex"}) {
    bool b = true;
    EXPECT_FALSE(parse_bool(x, b)) << '"' << x << '"';
    EXPECT_TRUE(b) << x;
    b = false;
    EXPECT_FALSE(parse_bool(x, b));
    EXPECT_FALSE(b);
  }
}

}  // namespace
}  // namespace portal::config

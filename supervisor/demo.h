// portald --demo DIR: the demo instance, run from the configuration embedded at build time
// (config/demo.conf, every "@DIR@" replaced by the demo folder). The text then takes exactly
// the path of `-c FILE`, standing in for the file DIR/demo.conf (which is never written).
#pragma once

#include <string>
#include <string_view>

#include "portal/result.h"
#include "supervisor/settings.h"

namespace portal::supervisor {

// The name the embedded configuration goes by in messages; relative paths in it resolve
// against its directory, DIR.
inline constexpr std::string_view kDemoConfName = "demo.conf";

// Every "@DIR@" in `text` replaced by `dir`.
std::string expand_demo_config(std::string_view text, std::string_view dir);

// `dir` made absolute and normalized (no trailing '/'). With `create`, a missing folder is
// created with mode 0700 (its parents as needed); an existing one must be a folder. Control
// characters are refused: the path is pasted into INI text.
Result<std::string> prepare_demo_dir(const std::string& dir, bool create);

// The settings of the demo instance in `abs_dir` (from prepare_demo_dir), from the embedded
// `text` (still holding "@DIR@").
Result<Settings> load_demo_settings(std::string_view text, const std::string& abs_dir, const SearchRoots& roots);

// The demo's root user: when `<data_dir>/users/root.conf` does not exist, it is created
// (mode 0600) with a random password and API key, and the returned text shows them once;
// otherwise the text says where they are. The router hashes the password when it loads.
Result<std::string> ensure_demo_root(const std::string& data_dir);

// What portald prints on stderr at start: where the instance lives and how to reach it with
// portalctl (the one next to portald in the build tree, else `portalctl` from PATH).
std::string demo_banner(const Settings& s, const SearchRoots& roots);

}  // namespace portal::supervisor

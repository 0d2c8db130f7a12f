// portald's config parser: any bytes give an Ini or an error naming file:line, never a crash.
#include <string>
#include <string_view>
#include <vector>

#include "common/ini.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = portal::config::parse_ini(text, "fuzz.conf");
  if (r) {
    (void)r->flatten();
    (void)r->get_all("modules", "load");
  } else if (r.error().message.rfind("fuzz.conf:", 0) != 0) {
    __builtin_trap();  // every parse error names the file and line
  }
  return 0;
}

std::vector<std::string> fuzz_seeds() {
  return {"[core]\ndata_dir = /tmp/x\n[modules]\nload = hello\nload = ctl\n[mod_ctl]\nsocket = /tmp/s\n",
          "; comment\n# comment\nkey = value\n[a b]\n x=y \r\n"};
}

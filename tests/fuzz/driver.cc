// Stand-alone driver for a fuzz target (no libFuzzer): seeds from argv files if given, then
// `PORTAL_FUZZ_RUNS` (default 20000) inputs of random size built from random bytes and
// from fragments of well-formed inputs the target offers through its seeds.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz_target.h"

std::vector<std::string> fuzz_seeds();  // defined by each target

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  }
  const char* env = std::getenv("PORTAL_FUZZ_RUNS");
  long runs = env ? std::strtol(env, nullptr, 10) : 20000;
  std::mt19937_64 rng(0x5eed);
  std::vector<std::string> seeds = fuzz_seeds();
  for (const auto& s : seeds) LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  std::string buf;
  for (long r = 0; r < runs; ++r) {
    if (!seeds.empty() && (r & 1)) {
      buf = seeds[rng() % seeds.size()];
      int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips && !buf.empty(); ++f) {
        std::size_t at = rng() % buf.size();
        switch (rng() % 4) {
          case 0: buf[at] = static_cast<char>(rng()); break;
          case 1: buf.erase(at, 1 + rng() % 8); break;
          case 2: buf.insert(at, std::string(1 + rng() % 8, static_cast<char>(rng()))); break;
          default: buf.resize(at); break;
        }
      }
    } else {
      buf.resize(rng() % 512);
      for (char& c : buf) c = static_cast<char>(rng());
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size());
  }
  std::printf("%ld inputs, no crash\n", runs + static_cast<long>(seeds.size()));
  return 0;
}

// Fuzz targets are plain LLVMFuzzerTestOneInput functions. Built with `-Dfuzz=true` and
// clang they link libFuzzer; otherwise driver.cc runs them over a deterministic stream of
// random and mutated inputs as an ordinary test, so every CI run exercises them.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

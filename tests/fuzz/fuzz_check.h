// Always-on invariant check for the fuzz targets (also in release builds of the corpus
// replay): prints the failed condition and aborts, which libFuzzer and CTest both report.
#pragma once

#include <cstdio>
#include <cstdlib>

#define GW_FUZZ_CHECK(cond)                                                                  \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

// Strict checks for gctl's flag values, so bad values are usage errors (exit 2) before any call.
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace gw::cli {

/// Accepts a plain decimal integer in [min, max] and nothing else: no sign, no hex, no
/// exponent, no silent saturation (CLI11's own conversion turns 2^64 into 2^64-1).
CLI::Validator unsigned_in(std::uint64_t min, std::uint64_t max);

}  // namespace gw::cli

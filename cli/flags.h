// Strict checks for gctl's flag values, so bad values are usage errors (exit 2) before any
// call; and reading the files some flags name (certificates, keys, password files).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace gw::cli {

/// Largest file a flag may name (certificate chains and keys; gctld refuses more than 1 MiB).
inline constexpr std::size_t kMaxFlagFileSize = 1 << 20;

/// Accepts a plain decimal integer in [min, max] and nothing else: no sign, no hex, no
/// exponent, no silent saturation (CLI11's own conversion turns 2^64 into 2^64-1).
CLI::Validator unsigned_in(std::uint64_t min, std::uint64_t max);

/// The whole content of the file `path` given to `flag`. Throws UsageError (exit 2) when it
/// cannot be read, is empty or larger than kMaxFlagFileSize; the message names the flag and
/// the path, never the content (the file may hold a private key).
std::string read_flag_file(const std::string& path, std::string_view flag);

/// The first line of the file `path` given to `flag`, without its line ending (LF or CRLF):
/// a password file. Throws UsageError as read_flag_file, also when that line is empty.
std::string read_first_line(const std::string& path, std::string_view flag);

/// The first line of `text` as a secret (a password): a leading UTF-8 byte order mark
/// dropped (Windows editors write one; kept, the password typed would fail and one with
/// U+FEFF before it pass: probe rounds 17 and 20), cut at the first LF, a CR before it
/// dropped. Used by every way gctl reads a password (--password-stdin, --password-file,
/// password_file in apply) so that one file gives one password whichever path reads it.
std::string first_line_of(std::string text);

}  // namespace gw::cli

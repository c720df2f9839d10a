// Process-wide structured logging to stderr (DESIGN.md §8) and escaping of untrusted text.
#pragma once

#include <string>
#include <string_view>

namespace gw::common {

/// Configures spdlog's default logger to write one line per event to stderr:
/// `2026-11-29T18:22:25.123Z level process message`. `level` is one of
/// trace|debug|info|warn|error; an unknown level throws std::invalid_argument (start-up only).
void init_logging(std::string_view process, std::string_view level);

/// Returns `text` made safe for one log line: printable ASCII is kept, everything else
/// (CR, LF, NUL, bytes >= 0x7f, '%') becomes `\xNN`, and the result is cut to `max_octets`
/// with a trailing "..." when longer. Use it for every client- or upstream-supplied string
/// (EHLO names, addresses, replies) before logging (field case BR-15).
std::string log_escape(std::string_view text, std::size_t max_octets = 256);

}  // namespace gw::common

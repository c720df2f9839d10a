// End-of-data detection for gw-smtp-sink: finds CRLF "." CRLF (RFC 5321 §4.1.1.4) across the
// chunks of a socket read, without copying the message.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace gw::bench {

/// Incremental search for the DATA terminator. The body starts at a line start, so ".\r\n"
/// right after the 354 ends an empty message. This is an independent peer of the relay under
/// test, so it does not reuse the relay's own reader (dataplane/smtp/data_reader.h).
class EndOfDataScanner {
 public:
  static constexpr std::size_t npos = std::string_view::npos;

  /// Returns how many octets of `chunk` come up to and including the terminator, or npos if
  /// the chunk does not complete it (all of it is then message content). After a terminator
  /// the scanner is ready for the next message.
  std::size_t feed(std::string_view chunk) {
    std::size_t i = 0;
    // A match begun in an earlier chunk: step byte by byte until it completes or breaks.
    while (state_ != 0 && i < chunk.size()) {
      state_ = step(state_, chunk[i++]);
      if (state_ == kMatched) {
        state_ = kLineStart;
        return i;
      }
    }
    if (i == chunk.size()) return npos;
    std::size_t pos = chunk.find("\r\n.\r\n", i);
    if (pos != npos) {
      state_ = kLineStart;
      return pos + 5;
    }
    // No match in the chunk: the state is the longest terminator prefix ending it, which
    // only its last four octets can hold.
    for (std::size_t j = std::max(i, chunk.size() - std::min<std::size_t>(chunk.size(), 4));
         j < chunk.size(); ++j) {
      state_ = step(state_, chunk[j]);
    }
    return npos;
  }

  /// Back to the start of a message body (a line start).
  void reset() { state_ = kLineStart; }

 private:
  // States: how many octets of "\r\n.\r\n" are matched (KMP over that pattern).
  static constexpr int kLineStart = 2;
  static constexpr int kMatched = 5;

  static int step(int state, char c) {
    switch (state) {
      case 0:
        return c == '\r' ? 1 : 0;
      case 1:
        return c == '\n' ? 2 : (c == '\r' ? 1 : 0);
      case 2:
        return c == '.' ? 3 : (c == '\r' ? 1 : 0);
      case 3:
        return c == '\r' ? 4 : 0;
      case 4:
        return c == '\n' ? kMatched : (c == '\r' ? 1 : 0);
      default:
        return 0;
    }
  }

  int state_ = kLineStart;
};

}  // namespace gw::bench

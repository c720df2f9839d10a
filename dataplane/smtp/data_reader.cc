// DATA stream state machine.
#include "dataplane/smtp/data_reader.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace gw::smtp {

namespace {

/// Offset of the first CR or LF in `data[0, n)`, or `n`. One pass, 16 octets a step with
/// SSE2 (every x86-64 CPU has it): a 100 KiB message of 80-octet lines is some 1,300
/// lines, and the two memchr calls per line this replaces (CR, then LF before it) cost
/// more in call overhead than in scanning (gw-data-reader-bench, 100 KiB: 16.0 -> 12.5 µs per
/// message, session 23).
std::size_t find_line_break(const char* data, std::size_t n) {
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
  for (; i < n; ++i) {
    if (data[i] == '\r' || data[i] == '\n') return i;
  }
  return n;
#else
  const void* cr = std::memchr(data, '\r', n);
  const std::size_t limit = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - data) : n;
  const void* lf = std::memchr(data, '\n', limit);
  return lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - data) : limit;
#endif
}

}  // namespace

void DataReader::emit(std::string_view span, std::string* wire, std::string* content) {
  if (span.empty() || defects_ != 0) return;
  if (wire) {
    if (restuff_) wire->push_back('.');
    wire->append(span);
  }
  restuff_ = false;
  if (content) content->append(span);
}

void DataReader::count_line_octets(std::size_t n) {
  line_octets_ += n;
  if (max_line_ != 0 && line_octets_ > max_line_) defect(kLineTooLong);
}

std::size_t DataReader::feed(std::string_view in, std::string* wire, std::string* content) {
  const char* data = in.data();
  const std::size_t n = in.size();
  std::size_t i = 0;
  std::size_t span = 0;  // start of the octets of `in` not yet emitted
  // The first NUL of the chunk, looked for once: every octet that is neither CR, LF nor a
  // line's first "." passes through kInLine, so the first NUL is found there (one memchr
  // per chunk instead of one per line).
  const void* first_nul = std::memchr(data, '\0', n);
  const std::size_t nul_at =
      first_nul ? static_cast<std::size_t>(static_cast<const char*>(first_nul) - data) : n;
  auto add_size = [&](std::size_t octets) {
    size_ += octets;
    if (max_size_ != 0 && size_ > max_size_) defect(kTooBig);
  };
  // A CR held from the previous chunk: with its LF it ends the line (counted before it is
  // emitted, like every other octet); otherwise the kCr case below reports it.
  if (state_ == State::kCr && n > 0 && data[0] == '\n') {
    count_line_octets(1);
    add_size(2);
    emit("\r", wire, content);
    i = 1;  // the LF is emitted with the span that starts at 0
    state_ = State::kLineStart;
  }
  while (i < n && state_ != State::kDone) {
    switch (state_) {
      case State::kLineStart:
        line_octets_ = 0;
        if (data[i] == '.') {
          emit(std::string_view(data + span, i - span), wire, content);
          // Not counted: the 1000-octet limit excludes the dot added for transparency
          // (RFC 5321 §4.5.3.1.6).
          ++i;
          span = i;  // the stuffing dot is dropped
          state_ = State::kDot;
        } else {
          state_ = State::kInLine;
        }
        break;
      case State::kDot:
        if (data[i] == '\r') {
          // Not counted yet: ".\r\n" is the terminator, not a text line.
          ++i;
          span = i;
          state_ = State::kDotCr;
        } else {
          // The line's content starts here; a content line that starts with "." goes out
          // with its stuffing dot again.
          if (data[i] == '.') restuff_ = true;
          state_ = State::kInLine;
        }
        break;
      case State::kDotCr:
        if (data[i] == '\n') {
          ++i;
          span = i;
          state_ = State::kDone;
        } else {
          // ".<CR>x": the CR is bare; it is content of a defective message.
          defect(kBareCr);
          count_line_octets(1);
          add_size(1);
          state_ = State::kInLine;
        }
        break;
      case State::kInLine: {
        // Fast path: skip ordinary octets up to the next CR or LF.
        // (A byte loop here was ~30% of grelayd's CPU at 100 KiB messages.)
        const std::size_t j = i + find_line_break(data + i, n - i);
        count_line_octets(j - i);
        add_size(j - i);
        if (nul_at >= i && nul_at < j) defect(kNul);
        if (refuse_8bit_ &&
            std::any_of(data + i, data + j, [](char c) { return (c & 0x80) != 0; })) {
          defect(kEightBit);
        }
        i = j;
        if (i == n) break;
        if (data[i] == '\n') {
          defect(kBareLf);
          count_line_octets(1);
          add_size(1);
          ++i;
        } else {
          count_line_octets(1);
          ++i;
          if (i == n) {
            // Hold the CR until the next chunk.
            emit(std::string_view(data + span, i - 1 - span), wire, content);
            span = i;
            state_ = State::kCr;
            return i;
          }
          state_ = State::kCr;
        }
        break;
      }
      case State::kCr:
        if (data[i] == '\n') {
          count_line_octets(1);
          add_size(2);
          ++i;
          state_ = State::kLineStart;
        } else {
          defect(kBareCr);
          add_size(1);
          state_ = State::kInLine;
        }
        break;
      case State::kDone:
        break;
    }
  }
  if (state_ == State::kDone) {
    // Everything before the terminator's leading dot was emitted already (kLineStart emits
    // up to the dot); nothing of ".\r\n" is message content.
    return i;
  }
  emit(std::string_view(data + span, i - span), wire, content);
  return i;
}

void append_dot_stuffed(std::string_view message, std::string& wire) {
  wire.reserve(wire.size() + message.size() + message.size() / 64 + 8);
  bool line_start = true;
  std::size_t i = 0;
  while (i < message.size()) {
    if (line_start && message[i] == '.') wire += '.';
    const void* nl = std::memchr(message.data() + i, '\n', message.size() - i);
    std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - message.data()) + 1
                         : message.size();
    wire.append(message.data() + i, end - i);
    line_start = nl != nullptr;
    i = end;
  }
  if (!message.empty() && !(message.size() >= 2 && message.substr(message.size() - 2) == "\r\n")) {
    wire += "\r\n";
  }
  wire += ".\r\n";
}

}  // namespace gw::smtp

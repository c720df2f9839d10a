// SMTP reply value, builder and parser.
#include "dataplane/smtp/reply.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/printable_line.h"
#include "dataplane/smtp/address.h"

namespace gw::smtp {

namespace {

/// `text` cut to kMaxReplyText octets (RFC 5321 §4.5.3.1.5: a reply line is at most 512
/// octets with its code, separator and CRLF), before a UTF-8 character rather than inside
/// it. An upstream's over-long reply line is relayed shortened, never as is. A SASL
/// challenge (334) is never cut: RFC 4954 §4 lets it be 12288 octets "independent of any
/// line length limitations", and a cut one is no longer valid base64 (probe round 22).
std::string_view fitted_text(std::string_view text, int code) {
  constexpr std::size_t kMaxReplyText = 512 - 4 - 2;
  if (code == 334 || text.size() <= kMaxReplyText) return text;
  std::size_t end = kMaxReplyText;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

void Reply::append_wire(std::string& out) const {
  // Three digits without snprintf (one reply per command: the hot path). Codes outside
  // 0..999 never reach here (the parser and make_reply keep 200..599).
  const int c = code < 0 ? 0 : code % 1000;
  const char code_text[3] = {static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                             static_cast<char>('0' + c % 10)};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out.append(code_text, 3);
    const bool last = i + 1 == lines.size();
    // RFC 5321 §4.2: Reply-code [ SP textstring ] CRLF; the space goes only before text,
    // except in a SASL challenge: RFC 4954 §4 continue-req is "334" SP [base64] CRLF, so an
    // empty challenge is "334 " (probe round 21: a relayed "334 " lost its space).
    if (!last) {
      out += '-';
    } else if (!lines[i].empty() || code == 334) {
      out += ' ';
    }
    out += fitted_text(lines[i], code);
    out += "\r\n";
  }
  if (lines.empty()) {
    out.append(code_text, 3);
    out += code == 334 ? " \r\n" : "\r\n";
  }
}

std::string Reply::wire() const {
  std::string out;
  append_wire(out);
  return out;
}

namespace {

/// Length of the enhanced status code at the start of `t` (class "." subject "." detail:
/// 1 digit in 2/4/5, 1-3 digits, 1-3 digits, RFC 3463 §2), or 0 when there is none.
std::size_t enhanced_code_length(std::string_view t) {
  std::size_t i = 0;
  auto digits = [&](std::size_t max) {
    std::size_t start = i;
    while (i < t.size() && i - start < max && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
  };
  if (!(i < t.size() && (t[i] == '2' || t[i] == '4' || t[i] == '5'))) return 0;
  ++i;
  if (i >= t.size() || t[i++] != '.' || !digits(3)) return 0;
  if (i >= t.size() || t[i++] != '.' || !digits(3)) return 0;
  return i;
}

}  // namespace

bool is_enhanced_code(std::string_view text) {
  return !text.empty() && enhanced_code_length(text) == text.size();
}

std::string_view Reply::enhanced_code() const {
  if (lines.empty()) return {};
  std::string_view t = lines.front();
  const std::size_t n = enhanced_code_length(t);
  if (n == 0 || (n < t.size() && t[n] != ' ')) return {};
  return t.substr(0, n);
}

Reply make_reply(int code, EnhancedStatus status, std::string_view text) {
  Reply r;
  r.code = code;
  std::string line = std::to_string(code / 100) + "." + std::to_string(status.subject) + "." +
                     std::to_string(status.detail);
  if (!text.empty()) {
    line += ' ';
    line += text;
  }
  r.lines.push_back(std::move(line));
  return r;
}

void append_reply(std::string& out, int code, EnhancedStatus status, std::string_view text) {
  // Same octets as make_reply(...).append_wire(out): "NNN c.s.d[ text]\r\n".
  const int c = code < 0 ? 0 : code % 1000;
  const char head[4] = {static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                        static_cast<char>('0' + c % 10), ' '};
  out.append(head, 4);
  out += std::to_string(code / 100);
  out += '.';
  out += std::to_string(status.subject);
  out += '.';
  out += std::to_string(status.detail);
  if (!text.empty()) {
    out += ' ';
    out += text;
  }
  out += "\r\n";
}

bool is_reply_text(std::string_view text) {
  // Fast path: runs of SP..~ (all but the rarest replies are only that), 8 octets at a
  // time; the octet-wise loop below takes over from the first word holding anything else.
  std::size_t start = 0;
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  while (start + 8 <= text.size()) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + start, sizeof word);
    // A high bit in (word - 0x20..) & ~word marks an octet < 0x20; in (word + 0x01..) | word
    // an octet >= 0x7f (DEL or 8-bit). Either sends the word to the exact loop.
    const std::uint64_t below_space = (word - 0x20 * kOnes) & ~word & kHigh;
    const std::uint64_t del_or_high = ((word + kOnes) | word) & kHigh;
    if ((below_space | del_or_high) != 0) break;
    start += 8;
  }
  text.remove_prefix(start);
  bool eight_bit = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    if (c == 0xc2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9f) return false;  // U+0080..U+009F: C1 controls
    }
    eight_bit = eight_bit || c >= 0x80;
  }
  return !eight_bit || is_valid_utf8(text);
}

Reply ascii_reply(Reply reply) {
  for (std::string& line : reply.lines) {
    if (std::none_of(line.begin(), line.end(), [](char c) { return (c & 0x80) != 0; })) continue;
    std::string out;
    out.reserve(line.size());
    for (std::size_t i = 0; i < line.size();) {
      if ((line[i] & 0x80) == 0) {
        out += line[i++];
        continue;
      }
      out += '?';
      i += std::max<std::size_t>(1, common::utf8_sequence_length(line, i));
    }
    line = std::move(out);
  }
  return reply;
}

ReplyLineEnd find_reply_line_end(std::string_view data) {
  const std::size_t at = data.find_first_of("\r\n");
  if (at == std::string_view::npos) return {ReplyLineEnd::Kind::kNeedMore, 0};
  if (data[at] == '\n') return {ReplyLineEnd::Kind::kBareLineBreak, at};
  if (at + 1 == data.size()) return {ReplyLineEnd::Kind::kNeedMore, 0};
  if (data[at + 1] != '\n') return {ReplyLineEnd::Kind::kBareLineBreak, at};
  return {ReplyLineEnd::Kind::kLine, at};
}

ReplyParser::Status ReplyParser::feed_line(std::string_view line) {
  if (line.size() < 3 || line.size() > kMaxLineOctets) return Status::kError;
  for (int i = 0; i < 3; ++i) {
    if (line[i] < '0' || line[i] > '9') return Status::kError;
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (code < 200 || code > 599) return Status::kError;
  if (!reply_.lines.empty() && code != reply_.code) return Status::kError;
  reply_.code = code;
  char sep = line.size() > 3 ? line[3] : ' ';
  if (sep != ' ' && sep != '-') return Status::kError;
  const Status status = sep == '-' ? Status::kNeedMore : Status::kComplete;
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  // A lone CR or LF would split the reply on the client's side: a framing fault (BR-31).
  // (find_reply_line_end already refuses them on the wire.)
  if (text.find_first_of("\r\n") != std::string_view::npos) return Status::kError;
  // Lines past kMaxLines are read and dropped: memory stays bounded, and the reply keeps
  // its code. A 250 to the end of data with 5,000 lines is still the upstream taking the
  // message; a fault there would make the client send it again (probe round 36).
  if (reply_.lines.size() >= kMaxLines) return status;
  // Reply text is printable (RFC 5321 §4.2: HT and SP-~; RFC 6531 §3.7.4.2 adds UTF-8).
  // Other octets (NUL, DEL, C1 controls, Latin-1) are the upstream's text, not its framing:
  // each becomes '?' and the code stands (§4.2: clients act on the code). Refusing them
  // turned an upstream's "250 ... accepté" in Latin-1 after the dot into a 451, and every
  // retry into another copy of the message (probe round 36).
  // Most replies are one line and an EHLO reply about ten: one allocation for either.
  if (reply_.lines.empty()) reply_.lines.reserve(sep == '-' ? 16 : 1);
  if (is_reply_text(text)) {
    reply_.lines.emplace_back(text);
  } else {
    reply_.lines.push_back(common::printable_line(text, text.size()));
  }
  return status;
}

Reply ReplyParser::take() {
  Reply out = std::move(reply_);
  reply_ = Reply{};
  // An enhanced code's class repeats the reply's first digit (RFC 3463 §2, RFC 2034 §4); a
  // client reading "550 2.1.5" cannot know which to believe. The code is what SMTP acts on
  // (RFC 5321 §4.2.1), so the class follows it: "550 5.1.5" (probe round 44). 3yz replies
  // carry no enhanced code and are left alone.
  const int cls = out.code / 100;
  if (cls == 2 || cls == 4 || cls == 5) {
    for (std::string& line : out.lines) {
      const std::size_t n = enhanced_code_length(line);
      if (n != 0 && (n == line.size() || line[n] == ' ') && line[0] != '0' + cls) {
        line[0] = static_cast<char>('0' + cls);
      }
    }
  }
  return out;
}

}  // namespace gw::smtp

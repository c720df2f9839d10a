// Fuzz target: the upstream reply parser (ReplyParser), Reply::wire()/enhanced_code() and
// make_reply(). The input is an upstream's byte stream, cut into lines at CRLF.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/printable_line.h"
#include "dataplane/smtp/address.h"
#include "dataplane/smtp/reply.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using gw::smtp::Reply;
using gw::smtp::ReplyParser;
using Status = ReplyParser::Status;

std::vector<std::string_view> split_crlf(std::string_view s) {
  std::vector<std::string_view> lines;
  while (true) {
    std::size_t crlf = s.find("\r\n");
    if (crlf == std::string_view::npos) break;
    lines.push_back(s.substr(0, crlf));
    s.remove_prefix(crlf + 2);
  }
  return lines;
}

void check_enhanced_code(const Reply& r) {
  std::string_view ec = r.enhanced_code();
  if (ec.empty()) return;
  GW_FUZZ_CHECK(!r.lines.empty());
  GW_FUZZ_CHECK(r.lines.front().compare(0, ec.size(), ec) == 0);
  GW_FUZZ_CHECK(r.lines.front().size() == ec.size() || r.lines.front()[ec.size()] == ' ');
  GW_FUZZ_CHECK(ec.size() >= 5 && ec.size() <= 9);
  GW_FUZZ_CHECK(ec[0] == '2' || ec[0] == '4' || ec[0] == '5');
  int dots = 0;
  for (char c : ec) {
    if (c == '.') {
      ++dots;
    } else {
      GW_FUZZ_CHECK(c >= '0' && c <= '9');
    }
  }
  GW_FUZZ_CHECK(dots == 2);
}

// A complete reply goes out on the wire and parses back to itself, each line at most 512
// octets: text longer than 506 octets comes back cut before a UTF-8 character (RFC 5321
// §4.5.3.1.5, Reply::append_wire).
void check_round_trip(const Reply& r) {
  GW_FUZZ_CHECK(r.code >= 200 && r.code <= 599);
  GW_FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= ReplyParser::kMaxLines);
  std::string wire = r.wire();
  std::string appended = "x";
  r.append_wire(appended);
  GW_FUZZ_CHECK(appended == "x" + wire);
  std::vector<std::string_view> lines = split_crlf(wire);
  GW_FUZZ_CHECK(lines.size() == r.lines.size());
  for (std::string_view line : lines) GW_FUZZ_CHECK(line.size() + 2 <= 512);
  ReplyParser again;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Status st = again.feed_line(lines[i]);
    GW_FUZZ_CHECK(st == (i + 1 < lines.size() ? Status::kNeedMore : Status::kComplete));
  }
  Reply back = again.take();
  GW_FUZZ_CHECK(back.code == r.code);
  GW_FUZZ_CHECK(back.lines.size() == r.lines.size());
  for (std::size_t i = 0; i < r.lines.size(); ++i) {
    const std::string& sent = r.lines[i];
    const std::string& got = back.lines[i];
    if (sent.size() <= 506) {
      GW_FUZZ_CHECK(got == sent);
    } else {
      GW_FUZZ_CHECK(got.size() <= 506 && got.size() + 3 >= 506);
      GW_FUZZ_CHECK(sent.compare(0, got.size(), got) == 0);
      GW_FUZZ_CHECK((static_cast<unsigned char>(sent[got.size()]) & 0xc0) != 0x80);
    }
  }
  check_enhanced_code(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // Each line's outcome is predicted from RFC 5321 §4.2 and the parser's documented limits.
  ReplyParser parser;
  std::size_t fed = 0;  // lines of the current reply accepted so far
  int current = 0;      // its code
  for (std::string_view line : split_crlf(in)) {
    bool digits = line.size() >= 3;
    for (std::size_t i = 0; digits && i < 3; ++i) digits = line[i] >= '0' && line[i] <= '9';
    int code = digits ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : 0;
    char sep = line.size() > 3 ? line[3] : ' ';
    // A CR or LF inside a line is a framing fault (BR-31); other octets that are no text
    // (controls, DEL, C1, ill-formed UTF-8) become '?' and the code stands (probe round 36).
    const std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    const bool line_break = text.find_first_of("\r\n") != std::string_view::npos;
    bool error = !digits || line.size() > ReplyParser::kMaxLineOctets || code < 200 || code > 599 ||
                 (fed > 0 && code != current) || (sep != ' ' && sep != '-') || line_break;
    Status want = error ? Status::kError : sep == '-' ? Status::kNeedMore : Status::kComplete;
    Status st = parser.feed_line(line);
    GW_FUZZ_CHECK(st == want);
    if (st == Status::kError) {
      parser = ReplyParser();  // the session drops the connection; start afresh
      fed = 0;
      continue;
    }
    ++fed;
    current = code;
    if (st == Status::kComplete) {
      Reply r = parser.take();
      // Lines past kMaxLines are read and dropped.
      GW_FUZZ_CHECK(r.lines.size() == std::min(fed, ReplyParser::kMaxLines));
      GW_FUZZ_CHECK(r.code == code);
      for (const std::string& kept : r.lines) GW_FUZZ_CHECK(gw::smtp::is_reply_text(kept));
      if (fed <= ReplyParser::kMaxLines) {
        std::string want_text = gw::smtp::is_reply_text(text)
                                    ? std::string(text)
                                    : gw::common::printable_line(text, text.size());
        // An enhanced code's class follows the reply code (RFC 3463 §2): "550 2.1.5" is
        // taken as "550 5.1.5".
        const int cls = code / 100;
        const std::string_view token = std::string_view(want_text).substr(0, want_text.find(' '));
        if ((cls == 2 || cls == 4 || cls == 5) && gw::smtp::is_enhanced_code(token) &&
            token[0] != '0' + cls) {
          want_text[0] = static_cast<char>('0' + cls);
        }
        GW_FUZZ_CHECK(r.lines.back() == want_text);
      }
      check_round_trip(r);
      fed = 0;
    }
  }

  // make_reply with fuzzer-chosen code, enhanced code and text.
  if (size >= 4) {
    // Classes 2, 4 and 5 only: RFC 3463 has no enhanced codes for 3xx (354, 334).
    static constexpr int kClasses[] = {2, 4, 5};
    int code = kClasses[data[0] % 3] * 100 + data[1] % 100;
    gw::smtp::EnhancedStatus status{data[2] % 100, data[3] % 100};
    std::string text;
    for (std::size_t i = 4; i < size && text.size() < 200; ++i) {
      // make_reply's precondition: printable ASCII here (UTF-8 is checked above).
      const auto c = data[i];
      if (c >= 0x20 && c < 0x7f) text += static_cast<char>(c);
    }
    Reply r = gw::smtp::make_reply(code, status, text);
    GW_FUZZ_CHECK(r.code == code && r.lines.size() == 1);
    GW_FUZZ_CHECK(r.enhanced_code() == std::to_string(code / 100) + "." +
                                           std::to_string(status.subject) + "." +
                                           std::to_string(status.detail));
    check_round_trip(r);
  }
  return 0;
}

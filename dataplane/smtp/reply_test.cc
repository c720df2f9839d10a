// Unit tests for the reply value, make_reply() and the upstream reply parser
// (RFC 5321 §4.2, RFC 3463 §2).
#include "dataplane/smtp/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace gw::smtp {
namespace {

using Status = ReplyParser::Status;

TEST(EnhancedCode, WholeTextMustBeOneRfc3463Code) {
  for (const char* good : {"2.0.0", "4.7.1", "5.7.12", "5.123.456"}) {
    EXPECT_TRUE(is_enhanced_code(good)) << good;
  }
  for (const char* bad : {"", "3.0.0", "5.7", "5.7.", "5.1234.1", "5.7.1 ", "5.7.1\r\n250",
                          "x.7.1", "55.7.1"}) {
    EXPECT_FALSE(is_enhanced_code(bad)) << bad;
  }
}

// RFC 5321 §4.5.3.1.5 on the way out: an upstream's 700-octet reply line is relayed
// shortened to 512 octets, cut before a UTF-8 character, never inside it (probe round 9).
TEST(ReplyWire, LinesAreCutTo512Octets) {
  Reply r;
  r.code = 550;
  r.lines = {std::string(700, 'a'), "5.7.1 " + std::string(499, 'b') + "\xe2\x82\xac" + "tail"};
  const std::string wire = r.wire();
  const std::size_t first_end = wire.find("\r\n");
  EXPECT_EQ(first_end + 2, 512u);
  EXPECT_EQ(wire.substr(0, 4), "550-");
  const std::string second = wire.substr(first_end + 2);
  EXPECT_EQ(second, "550 5.7.1 " + std::string(499, 'b') + "\r\n");  // € did not fit
  EXPECT_EQ(make_reply(250, {0, 0}, "short").wire(), "250 2.0.0 short\r\n");
}

TEST(ReplyWire, SaslChallengesAreNeverCut) {
  // RFC 4954 §4: a challenge may be 12288 octets "independent of any line length
  // limitations"; cut at 512 it is no longer valid base64 (probe round 22: an 800-octet
  // GSSAPI token was relayed as 506 octets).
  const std::string token(12288, 'A');
  ReplyParser parser;
  ASSERT_EQ(parser.feed_line("334 " + token), ReplyParser::Status::kComplete);
  EXPECT_EQ(parser.take().wire(), "334 " + token + "\r\n");
  // Any other reply line is still cut to 512 octets.
  ASSERT_EQ(parser.feed_line("535 " + std::string(800, 'x')), ReplyParser::Status::kComplete);
  EXPECT_EQ(parser.take().wire().size(), 512u);
  // One octet more than the longest challenge is a fault.
  EXPECT_EQ(parser.feed_line("334 " + token + "A"), ReplyParser::Status::kError);
}

TEST(ReplyWire, EmptySaslChallengeKeepsItsSpace) {
  // RFC 4954 §4: continue-req = "334" SP [base64] CRLF (probe round 21: a relayed "334 "
  // went out as "334").
  ReplyParser parser;
  ASSERT_EQ(parser.feed_line("334 "), ReplyParser::Status::kComplete);
  EXPECT_EQ(parser.take().wire(), "334 \r\n");
  ASSERT_EQ(parser.feed_line("334"), ReplyParser::Status::kComplete);
  EXPECT_EQ(parser.take().wire(), "334 \r\n");
  ASSERT_EQ(parser.feed_line("250"), ReplyParser::Status::kComplete);
  EXPECT_EQ(parser.take().wire(), "250\r\n");
}

TEST(ReplyLineEnd, OnlyCrlfEndsALineAndABareBreakIsAFault) {
  using Kind = ReplyLineEnd::Kind;
  EXPECT_EQ(find_reply_line_end("").kind, Kind::kNeedMore);
  EXPECT_EQ(find_reply_line_end("250 ok").kind, Kind::kNeedMore);
  EXPECT_EQ(find_reply_line_end("250 ok\r").kind, Kind::kNeedMore);  // LF may follow
  const ReplyLineEnd line = find_reply_line_end("250 ok\r\n354 more");
  EXPECT_EQ(line.kind, Kind::kLine);
  EXPECT_EQ(line.length, 6u);
  EXPECT_EQ(find_reply_line_end("\r\n").length, 0u);
  // A bare LF (with nothing after it, or before a CRLF) and a CR before anything but LF
  // (probe round 19: "250 2.1.5 ok\n" stalled the client until the upstream timeout).
  for (const char* bare : {"250 2.1.5 ok\n", "250 ok\n\r\n", "\n", "250-a\r250 b\r\n",
                           "250 ok\r\r\n", "250 ok\rx"}) {
    EXPECT_EQ(find_reply_line_end(bare).kind, Kind::kBareLineBreak) << bare;
  }
}

TEST(ReplyParser, SingleLine) {
  ReplyParser p;
  ASSERT_EQ(p.feed_line("250 2.1.0 Ok"), Status::kComplete);
  Reply r = p.take();
  EXPECT_EQ(r.code, 250);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0], "2.1.0 Ok");
  EXPECT_EQ(r.wire(), "250 2.1.0 Ok\r\n");
  EXPECT_TRUE(r.positive());
  EXPECT_FALSE(r.transient());
  EXPECT_FALSE(r.permanent());
}

// RFC 3463 §2: the class of an enhanced code is the reply's first digit; the code wins.
TEST(ReplyParser, EnhancedCodeClassFollowsTheReplyCode) {
  auto parsed = [](std::initializer_list<const char*> lines) {
    ReplyParser p;
    for (const char* line : lines) p.feed_line(line);
    return p.take().wire();
  };
  EXPECT_EQ(parsed({"550 2.1.5 ok"}), "550 5.1.5 ok\r\n");
  EXPECT_EQ(parsed({"250 5.0.0 hmm"}), "250 2.0.0 hmm\r\n");
  EXPECT_EQ(parsed({"451 5.7.1"}), "451 4.7.1\r\n");
  EXPECT_EQ(parsed({"550-2.1.1 no such user", "550 5.1.1 here"}),
            "550-5.1.1 no such user\r\n550 5.1.1 here\r\n");
  // Matching codes, text that only looks like one, and 3yz replies stay as sent.
  EXPECT_EQ(parsed({"250 2.1.0 Ok"}), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(parsed({"550 2.1.5x not a code"}), "550 2.1.5x not a code\r\n");
  EXPECT_EQ(parsed({"550 version 2.1.5 says no"}), "550 version 2.1.5 says no\r\n");
  EXPECT_EQ(parsed({"354 2.0.0 go ahead"}), "354 2.0.0 go ahead\r\n");
}

TEST(ReplyParser, MultiLine) {
  ReplyParser p;
  EXPECT_EQ(p.feed_line("250-mx.example.org at your service"), Status::kNeedMore);
  EXPECT_EQ(p.feed_line("250-SIZE 35651584"), Status::kNeedMore);
  EXPECT_EQ(p.feed_line("250-8BITMIME"), Status::kNeedMore);
  EXPECT_EQ(p.feed_line("250 SMTPUTF8"), Status::kComplete);
  Reply r = p.take();
  EXPECT_EQ(r.code, 250);
  ASSERT_EQ(r.lines.size(), 4u);
  EXPECT_EQ(r.lines[0], "mx.example.org at your service");
  EXPECT_EQ(r.lines[3], "SMTPUTF8");
  EXPECT_EQ(r.wire(),
            "250-mx.example.org at your service\r\n250-SIZE 35651584\r\n250-8BITMIME\r\n"
            "250 SMTPUTF8\r\n");
}

TEST(ReplyParser, TakeResetsForTheNextReply) {
  ReplyParser p;
  ASSERT_EQ(p.feed_line("354 End data with <CR><LF>.<CR><LF>"), Status::kComplete);
  EXPECT_EQ(p.take().code, 354);
  ASSERT_EQ(p.feed_line("550-5.7.1 first"), Status::kNeedMore);
  ASSERT_EQ(p.feed_line("550 5.7.1 second"), Status::kComplete);
  Reply r = p.take();
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.lines.size(), 2u);
  EXPECT_TRUE(r.permanent());
  // A fresh reply may have a different code.
  ASSERT_EQ(p.feed_line("421 4.4.2 bye"), Status::kComplete);
  Reply t = p.take();
  EXPECT_EQ(t.code, 421);
  EXPECT_TRUE(t.transient());
  EXPECT_EQ(t.lines.size(), 1u);
}

TEST(ReplyParser, CodeAloneIsTolerated) {
  ReplyParser p;
  ASSERT_EQ(p.feed_line("250"), Status::kComplete);
  Reply r = p.take();
  EXPECT_EQ(r.code, 250);
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0], "");
  // RFC 5321 §4.2: Reply-code [ SP textstring ] CRLF; textstring is not empty.
  EXPECT_EQ(r.wire(), "250\r\n");

  ASSERT_EQ(p.feed_line("250-"), Status::kNeedMore);
  ASSERT_EQ(p.feed_line("250 "), Status::kComplete);
  r = p.take();
  EXPECT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.wire(), "250-\r\n250\r\n");
}

TEST(ReplyParser, MismatchedContinuationCode) {
  ReplyParser p;
  ASSERT_EQ(p.feed_line("250-first"), Status::kNeedMore);
  EXPECT_EQ(p.feed_line("251 second"), Status::kError);

  ReplyParser q;
  ASSERT_EQ(q.feed_line("250-first"), Status::kNeedMore);
  EXPECT_EQ(q.feed_line("550-second"), Status::kError);
}

TEST(ReplyParser, BadCodes) {
  for (std::string_view line : {"199 nope", "600 nope", "25x nope", "x50 nope", "099 nope", "", "2",
                                "25", " 250 ok", "-250 ok", "999"}) {
    ReplyParser p;
    EXPECT_EQ(p.feed_line(line), Status::kError) << "'" << line << "'";
  }
  for (std::string_view line : {"200 ok", "599 no"}) {
    ReplyParser p;
    EXPECT_EQ(p.feed_line(line), Status::kComplete) << line;
  }
}

TEST(ReplyParser, BadSeparator) {
  for (std::string_view line : {"2500 ok", "250\tok", "250_ok", "250.ok"}) {
    ReplyParser p;
    EXPECT_EQ(p.feed_line(line), Status::kError) << line;
  }
}

TEST(ReplyParser, LineBreaksInTextAreErrors) {
  // A lone LF or CR would split the reply on the client's side (BR-31).
  for (std::string_view line :
       {std::string_view("250 2.1.5 ok\n354 fake"), std::string_view("250 o\rRSET")}) {
    ReplyParser p;
    EXPECT_EQ(p.feed_line(line), ReplyParser::Status::kError) << line;
  }
  ReplyParser p;  // HT and UTF-8 (SMTPUTF8 text) stay
  EXPECT_EQ(p.feed_line("250 ok\tfine \xc3\xa9 \xe2\x82\xac"), ReplyParser::Status::kComplete);
  EXPECT_EQ(p.take().lines.at(0), "ok\tfine \xc3\xa9 \xe2\x82\xac");
}

TEST(ReplyParser, OtherOctetsThatAreNoTextBecomeQuestionMarks) {
  // NUL, DEL, ESC, C1 controls (0x9B alone is a terminal's CSI, U+009B encoded still a C1
  // control) and ill-formed UTF-8 (Latin-1) are the upstream's text, not its framing: the
  // code stands (probe round 36: a Latin-1 "250 ... accepté" after the dot became a 451
  // and each retry another copy upstream).
  const std::pair<std::string_view, std::string_view> cases[] = {
      {std::string_view("250 o\0k", 7), "o?k"},
      {"250-a\x7f", "a?"},
      {"550 \x1b[31mred", "?[31mred"},
      {"550 5.1.1 \x9b" "31m red", "5.1.1 ?31m red"},
      {"550 \xc2\x9b" "2J", "?2J"},
      {"550 \xff\xfe", "??"},
      {"250 accept\xe9", "accept?"},
      {"250 \xed\xa0\x80", "???"},
  };
  for (const auto& [line, text] : cases) {
    ReplyParser p;
    const auto status = p.feed_line(line);
    ASSERT_NE(status, ReplyParser::Status::kError) << line;
    EXPECT_EQ(p.take().lines.at(0), text) << line;
  }
  EXPECT_TRUE(is_reply_text("gr\xc3\xbc\xc3\x9f" "e"));
  EXPECT_FALSE(is_reply_text("a\x7f"));
}

TEST(Reply, AsciiReplyReplacesEachNonAsciiCharacterOnce) {
  Reply r = make_reply(550, es::kNotAuthorized, "ceo@b\xc3\xbc" "cher.example \xe2\x82\xac \xff!");
  r.lines.push_back("plain");
  const Reply a = ascii_reply(r);
  EXPECT_EQ(a.code, 550);
  ASSERT_EQ(a.lines.size(), 2u);
  EXPECT_EQ(a.lines[0], "5.7.1 ceo@b?cher.example ? ?!");
  EXPECT_EQ(a.lines[1], "plain");
}

TEST(ReplyParser, EveryOctetIsCheckedWhereverItSits) {
  // is_reply_text checks printable ASCII eight octets at a time: each refused octet, and
  // each allowed non-printable one (HT, UTF-8), at every offset of a long text.
  for (std::size_t at = 0; at < 26; ++at) {
    for (char bad : {'\0', '\r', '\n', '\x1b', '\x1f', '\x7f', '\x80', '\x9b', '\xff'}) {
      std::string text(25, 'x');
      text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), bad);
      EXPECT_FALSE(is_reply_text(text)) << at << " " << int(static_cast<unsigned char>(bad));
    }
    std::string tab(25, '~');
    tab.insert(tab.begin() + static_cast<std::ptrdiff_t>(at), '\t');
    EXPECT_TRUE(is_reply_text(tab)) << at;
    std::string utf8(25, ' ');
    utf8.insert(at, "\xc3\xa9");
    EXPECT_TRUE(is_reply_text(utf8)) << at;
    std::string c1(25, ' ');
    c1.insert(at, "\xc2\x85");
    EXPECT_FALSE(is_reply_text(c1)) << at;
  }
  EXPECT_TRUE(is_reply_text(std::string(40, ' ') + "!~"));
}

TEST(ReplyParser, LineLengthLimit) {
  std::string ok = "250 " + std::string(ReplyParser::kMaxLineOctets - 4, 'a');
  ASSERT_EQ(ok.size(), ReplyParser::kMaxLineOctets);
  ReplyParser p;
  EXPECT_EQ(p.feed_line(ok), Status::kComplete);

  std::string too_long = ok + "a";
  ReplyParser q;
  EXPECT_EQ(q.feed_line(too_long), Status::kError);
}

TEST(ReplyParser, LineCountLimit) {
  ReplyParser p;
  for (std::size_t i = 0; i + 1 < ReplyParser::kMaxLines; ++i) {
    ASSERT_EQ(p.feed_line("250-x"), Status::kNeedMore) << i;
  }
  EXPECT_EQ(p.feed_line("250 last"), Status::kComplete) << "exactly kMaxLines lines are fine";
  EXPECT_EQ(p.take().lines.size(), ReplyParser::kMaxLines);

  ReplyParser q;
  for (std::size_t i = 0; i < ReplyParser::kMaxLines; ++i) {
    ASSERT_EQ(q.feed_line("250-x"), Status::kNeedMore) << i;
  }
  // Lines past kMaxLines are read and dropped; the reply keeps its code (probe round 36).
  EXPECT_EQ(q.feed_line("250-dropped"), Status::kNeedMore);
  EXPECT_EQ(q.feed_line("251 a different code is still an error"), Status::kError);
  ReplyParser r;
  for (std::size_t i = 0; i < 5000; ++i) ASSERT_EQ(r.feed_line("250-x"), Status::kNeedMore) << i;
  EXPECT_EQ(r.feed_line("250 one too many"), Status::kComplete);
  const Reply many = r.take();
  EXPECT_EQ(many.code, 250);
  EXPECT_EQ(many.lines.size(), ReplyParser::kMaxLines);
}

TEST(Reply, WireForMultiLine) {
  Reply r;
  r.code = 250;
  r.lines = {"relay.example.com Hello c.example.net", "SIZE 1000", "PIPELINING"};
  EXPECT_EQ(r.wire(),
            "250-relay.example.com Hello c.example.net\r\n250-SIZE 1000\r\n250 PIPELINING\r\n");
  std::string out = "prefix|";
  r.append_wire(out);
  EXPECT_EQ(out, "prefix|" + r.wire());
}

TEST(Reply, WirePadsTheCode) {
  Reply r;
  r.code = 250;
  EXPECT_EQ(r.wire(), "250\r\n") << "no lines: the code alone";
}

TEST(Reply, EnhancedCode) {
  auto ec = [](std::string first_line) {
    Reply r;
    r.code = 550;
    r.lines.push_back(std::move(first_line));
    return std::string(r.enhanced_code());
  };
  EXPECT_EQ(ec("5.7.1 Relaying denied"), "5.7.1");
  EXPECT_EQ(ec("5.7.1"), "5.7.1");
  EXPECT_EQ(ec("2.0.0 Ok"), "2.0.0");
  EXPECT_EQ(ec("4.123.456 odd but legal"), "4.123.456");
  EXPECT_EQ(ec("5.1234.1 too many digits"), "");
  EXPECT_EQ(ec("3.1.1 bad class"), "");
  EXPECT_EQ(ec("5.7 short"), "");
  EXPECT_EQ(ec("5.7. empty detail"), "");
  EXPECT_EQ(ec("5..1 empty subject"), "");
  EXPECT_EQ(ec("5.7.1x glued"), "");
  EXPECT_EQ(ec("5.7.1-dash"), "");
  EXPECT_EQ(ec("Relaying denied"), "");
  EXPECT_EQ(ec(""), "");
  Reply none;
  none.code = 250;
  EXPECT_EQ(none.enhanced_code(), "");
  // Only the first line counts.
  Reply multi;
  multi.code = 250;
  multi.lines = {"mx.example.org", "2.0.0 not here"};
  EXPECT_EQ(multi.enhanced_code(), "");
}

TEST(MakeReply, FormatsCodeEnhancedCodeAndText) {
  Reply r = make_reply(550, es::kNotAuthorized, "text");
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.wire(), "550 5.7.1 text\r\n");
  EXPECT_EQ(r.enhanced_code(), "5.7.1");

  EXPECT_EQ(make_reply(250, es::kUndefined, "OK").wire(), "250 2.0.0 OK\r\n");
  EXPECT_EQ(make_reply(421, es::kBadConnection, "timeout").wire(), "421 4.4.2 timeout\r\n");
  EXPECT_EQ(make_reply(530, es::kEncryptionRequired, "x").wire(), "530 5.7.11 x\r\n");
  EXPECT_EQ(make_reply(553, es::kNonAsciiAddress, "UTF-8").enhanced_code(), "5.6.7");
  EXPECT_EQ(make_reply(221, es::kUndefined, "").wire(), "221 2.0.0\r\n");
}

TEST(MakeReply, ParsesBackThroughReplyParser) {
  Reply r = make_reply(452, es::kTooManyRecipients, "Too many recipients");
  std::string wire = r.wire();
  ASSERT_EQ(wire.substr(wire.size() - 2), "\r\n");
  ReplyParser p;
  ASSERT_EQ(p.feed_line(std::string_view(wire).substr(0, wire.size() - 2)), Status::kComplete);
  Reply back = p.take();
  EXPECT_EQ(back.code, r.code);
  EXPECT_EQ(back.lines, r.lines);
}

TEST(AppendReply, SameOctetsAsMakeReply) {
  struct Case {
    int code;
    EnhancedStatus status;
    std::string_view text;
  };
  const Case cases[] = {{250, es::kUndefined, "OK"},
                        {221, es::kUndefined, ""},
                        {530, es::kEncryptionRequired, "Must issue a STARTTLS command first"},
                        {421, es::kBadConnection, "gw.example Error: timeout exceeded"},
                        {500, es::kAuthLineTooLong, "x"}};
  for (const auto& c : cases) {
    std::string out = "pending\r\n";
    append_reply(out, c.code, c.status, c.text);
    EXPECT_EQ(out, "pending\r\n" + make_reply(c.code, c.status, c.text).wire()) << c.code;
  }
}

}  // namespace
}  // namespace gw::smtp

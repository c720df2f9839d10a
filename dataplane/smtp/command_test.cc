// Unit tests for command line scanning and verb parsing (RFC 5321 §2.3.8, §2.4, §4.1;
// field cases BR-01, BR-02, BR-23).
#include "dataplane/smtp/command.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace gw::smtp {
namespace {

using namespace std::string_view_literals;

TEST(ParseCommand, AllVerbsInAnyCase) {
  struct Case {
    std::string_view line;
    Verb verb;
  };
  const Case cases[] = {
      {"HELO a.example", Verb::kHelo},
      {"helo a.example", Verb::kHelo},
      {"EHLO a.example", Verb::kEhlo},
      {"eHlO a.example", Verb::kEhlo},
      {"MAIL FROM:<>", Verb::kMail},
      {"mail FROM:<>", Verb::kMail},
      {"RCPT TO:<a@b.c>", Verb::kRcpt},
      {"Rcpt TO:<a@b.c>", Verb::kRcpt},
      {"DATA", Verb::kData},
      {"data", Verb::kData},
      {"RSET", Verb::kRset},
      {"rset", Verb::kRset},
      {"NOOP", Verb::kNoop},
      {"noop x", Verb::kNoop},
      {"QUIT", Verb::kQuit},
      {"quit", Verb::kQuit},
      {"VRFY bob", Verb::kVrfy},
      {"vrfy bob", Verb::kVrfy},
      {"EXPN list", Verb::kExpn},
      {"expn list", Verb::kExpn},
      {"HELP", Verb::kHelp},
      {"help mail", Verb::kHelp},
      {"STARTTLS", Verb::kStarttls},
      {"StartTls", Verb::kStarttls},
      {"AUTH PLAIN", Verb::kAuth},
      {"auth login", Verb::kAuth},
      {"BDAT 10 LAST", Verb::kBdat},
      {"bdat 10", Verb::kBdat},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_command(c.line).verb, c.verb) << c.line;
  }
}

TEST(ParseCommand, ArgumentsAfterOneSpace) {
  Command cmd = parse_command("MAIL FROM:<alice@example.com> SIZE=100");
  EXPECT_EQ(cmd.verb, Verb::kMail);
  EXPECT_EQ(cmd.args, "FROM:<alice@example.com> SIZE=100");

  cmd = parse_command("EHLO  two.spaces.example");
  EXPECT_EQ(cmd.verb, Verb::kEhlo);
  EXPECT_EQ(cmd.args, " two.spaces.example") << "only the one separating space is removed";

  cmd = parse_command("DATA");
  EXPECT_EQ(cmd.verb, Verb::kData);
  EXPECT_TRUE(cmd.args.empty());

  cmd = parse_command("NOOP ");
  EXPECT_EQ(cmd.verb, Verb::kNoop);
  EXPECT_TRUE(cmd.args.empty());
}

TEST(ParseCommand, TrailingWhiteSpaceIsTolerated) {
  // RFC 5321 §4.1.1: SP and HTAB before the CRLF (probe round 23: a trailing tab made every
  // verb unknown and MAIL/RCPT blame the address).
  for (std::string_view line : {"NOOP\t"sv, "QUIT \t "sv, "RSET\t\t"sv, "DATA \t"sv}) {
    const Command cmd = parse_command(line);
    EXPECT_NE(cmd.verb, Verb::kUnknown) << line;
    EXPECT_TRUE(cmd.args.empty()) << line;
  }
  Command cmd = parse_command("MAIL FROM:<alice@example.com> SIZE=100\t \t");
  EXPECT_EQ(cmd.verb, Verb::kMail);
  EXPECT_EQ(cmd.args, "FROM:<alice@example.com> SIZE=100");
  cmd = parse_command("RCPT TO:<bob@example.org>\t");
  EXPECT_EQ(cmd.args, "TO:<bob@example.org>");
  // A tab is no separator between verb and arguments (RFC 5321 §4.1.1: SP).
  EXPECT_EQ(parse_command("NOOP\tx").verb, Verb::kUnknown);
}

TEST(ParseCommand, ArgsPointIntoTheLine) {
  const std::string line = "RCPT TO:<bob@example.org>";
  Command cmd = parse_command(line);
  EXPECT_EQ(cmd.args.data(), line.data() + 5);
}

TEST(ParseCommand, UnknownVerbs) {
  for (std::string_view line :
       {"MAILX FROM:<a@b.c>"sv, "MAI FROM:<a@b.c>"sv, "MAIL:FROM:<a@b.c>"sv, "MAIL\tFROM:<a@b.c>"sv,
        ""sv, " MAIL FROM:<a@b.c>"sv, "XYZZY"sv, "DATA\r"sv, "QUIT\0"sv, "EHL0 x"sv, "STARTTLSX"sv,
        "M\xc3\x81IL"sv}) {
    EXPECT_EQ(parse_command(line).verb, Verb::kUnknown) << line;
  }
}

TEST(ParseCommand, UnknownVerbStillSplitsArgs) {
  Command cmd = parse_command("XCLIENT NAME=x");
  EXPECT_EQ(cmd.verb, Verb::kUnknown);
  EXPECT_EQ(cmd.args, "NAME=x");
}

TEST(VerbName, RoundTripsThroughParse) {
  for (Verb v : {Verb::kHelo, Verb::kEhlo, Verb::kMail, Verb::kRcpt, Verb::kData, Verb::kRset,
                 Verb::kNoop, Verb::kQuit, Verb::kVrfy, Verb::kExpn, Verb::kHelp, Verb::kStarttls,
                 Verb::kAuth, Verb::kBdat}) {
    std::string_view name = verb_name(v);
    EXPECT_NE(name, "?");
    EXPECT_EQ(parse_command(name).verb, v) << name;
  }
  EXPECT_EQ(verb_name(Verb::kUnknown), "?");
  EXPECT_EQ(verb_name(Verb::kEhlo), "EHLO");
}

TEST(ScanLine, SimpleCrlfLine) {
  LineScan s = scan_line("NOOP\r\n");
  EXPECT_EQ(s.end, 6u);
  EXPECT_FALSE(s.bare_cr);
  EXPECT_FALSE(s.bare_lf);
  EXPECT_FALSE(s.nul);
}

TEST(ScanLine, FindsOnlyTheFirstLine) {
  LineScan s = scan_line("EHLO a.example\r\nMAIL FROM:<>\r\n");
  EXPECT_EQ(s.end, 16u);
  s = scan_line("\r\nNOOP\r\n");
  EXPECT_EQ(s.end, 2u) << "an empty line is a line";
}

TEST(ScanLine, NoCrlfYet) {
  EXPECT_EQ(scan_line("").end, std::string_view::npos);
  EXPECT_EQ(scan_line("MAIL FROM:<a@b.c>").end, std::string_view::npos);
}

TEST(ScanLine, CrAtEndOfBufferIsNotALineEnd) {
  LineScan s = scan_line("NOOP\r");
  EXPECT_EQ(s.end, std::string_view::npos);
  EXPECT_FALSE(s.bare_cr) << "its LF may still come";
  s = scan_line("\r");
  EXPECT_EQ(s.end, std::string_view::npos);
  EXPECT_FALSE(s.bare_cr);
}

TEST(ScanLine, BareLfDoesNotEndALine) {
  LineScan s = scan_line("NOOP\nRSET\r\n");
  EXPECT_EQ(s.end, 11u);
  EXPECT_TRUE(s.bare_lf);
  EXPECT_FALSE(s.bare_cr);

  s = scan_line("NOOP\n");
  EXPECT_EQ(s.end, std::string_view::npos);
  EXPECT_TRUE(s.bare_lf);
}

TEST(ScanLine, BareCrDoesNotEndALine) {
  LineScan s = scan_line("NOOP\rRSET\r\n");
  EXPECT_EQ(s.end, 11u);
  EXPECT_TRUE(s.bare_cr);
  EXPECT_FALSE(s.bare_lf);

  s = scan_line("\r\r\n");
  EXPECT_EQ(s.end, 3u);
  EXPECT_TRUE(s.bare_cr);
}

TEST(ScanLine, LfCrIsTwoDefectsNotALineEnd) {
  LineScan s = scan_line("A\n\rB\r\n");
  EXPECT_EQ(s.end, 6u);
  EXPECT_TRUE(s.bare_lf);
  EXPECT_TRUE(s.bare_cr);
}

TEST(ScanLine, NulIsFlaggedAndKeptInsideTheLine) {
  const std::string line("MAIL FROM:<a\0b@example.com>\r\nNOOP\r\n", 35);
  LineScan s = scan_line(line);
  EXPECT_EQ(s.end, 29u);
  EXPECT_TRUE(s.nul);
  EXPECT_FALSE(s.bare_cr);
  EXPECT_FALSE(s.bare_lf);
}

// Field case BR-02: a CR inside a command line must not split it into two commands.
TEST(ScanLine, RcptBareCrRsetIsOneLine) {
  const std::string_view in = "RCPT TO:<bob@example.org>\rRSET\r\nQUIT\r\n";
  LineScan s = scan_line(in);
  ASSERT_NE(s.end, std::string_view::npos);
  EXPECT_EQ(in.substr(0, s.end), "RCPT TO:<bob@example.org>\rRSET\r\n");
  EXPECT_TRUE(s.bare_cr);
  EXPECT_FALSE(s.bare_lf);
  EXPECT_FALSE(s.nul);
}

TEST(ScanLine, RcptBareLfRsetIsOneLine) {
  const std::string_view in = "RCPT TO:<bob@example.org>\nRSET\r\n";
  LineScan s = scan_line(in);
  EXPECT_EQ(s.end, in.size());
  EXPECT_TRUE(s.bare_lf);
}

// Scanning a prefix never finds a line end the full buffer does not have at the same place.
TEST(ScanLine, PrefixesAgreeWithTheWholeBuffer) {
  const std::string_view in = "EHLO x\r\rMAIL\n\0FROM:<>\r\nRSET\r\n"sv;
  const LineScan whole = scan_line(in);
  ASSERT_NE(whole.end, std::string_view::npos);
  for (std::size_t k = 0; k <= in.size(); ++k) {
    LineScan s = scan_line(in.substr(0, k));
    if (k < whole.end) {
      EXPECT_EQ(s.end, std::string_view::npos) << k;
    } else {
      EXPECT_EQ(s.end, whole.end) << k;
      EXPECT_EQ(s.bare_cr, whole.bare_cr);
      EXPECT_EQ(s.bare_lf, whole.bare_lf);
      EXPECT_EQ(s.nul, whole.nul);
    }
  }
  EXPECT_TRUE(whole.bare_cr);
  EXPECT_TRUE(whole.bare_lf);
  EXPECT_TRUE(whole.nul);
}

TEST(Pipelining, CommandsThatMustEndAGroup) {
  for (Verb v : {Verb::kEhlo, Verb::kHelo, Verb::kData, Verb::kStarttls, Verb::kAuth}) {
    EXPECT_TRUE(must_end_pipeline_group(v)) << verb_name(v);
  }
  for (Verb v : {Verb::kMail, Verb::kRcpt, Verb::kRset, Verb::kNoop, Verb::kQuit, Verb::kVrfy,
                 Verb::kExpn, Verb::kHelp, Verb::kBdat, Verb::kUnknown}) {
    EXPECT_FALSE(must_end_pipeline_group(v)) << verb_name(v);
  }
}

}  // namespace
}  // namespace gw::smtp

// Unit tests for the DATA stream reader and dot-stuffing (RFC 5321 §4.1.1.4, §4.5.2,
// §2.3.8, §4.5.3.1.6; field cases BR-01, BR-02, BR-04, BR-13).
#include "dataplane/smtp/data_reader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/data_reader_model.h"

namespace gw::smtp {
namespace {

using namespace std::string_literals;

struct Outcome {
  std::string wire;
  std::string content;
  std::size_t consumed = 0;
  unsigned defects = 0;
  bool done = false;
  std::uint64_t size = 0;
};

// Feeds `in` in the chunks that `cuts` (increasing offsets) delimit, stopping once the reader
// is done, as a session does (the rest of its buffer belongs to command mode).
Outcome read_chunks(std::string_view in, const std::vector<std::size_t>& cuts,
                    std::size_t max_line = 0, std::uint64_t max_size = 0) {
  DataReader reader(max_line, max_size);
  Outcome out;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(in.size());
  for (std::size_t to : ends) {
    if (reader.done()) break;
    std::string_view chunk = in.substr(from, to - from);
    std::size_t n = reader.feed(chunk, &out.wire, &out.content);
    EXPECT_LE(n, chunk.size());
    if (!reader.done()) {
      EXPECT_EQ(n, chunk.size()) << "all of a chunk is consumed until done";
    }
    out.consumed += n;
    from = to;
  }
  out.defects = reader.defects();
  out.done = reader.done();
  out.size = reader.size();
  return out;
}

Outcome read_whole(std::string_view in, std::size_t max_line = 0, std::uint64_t max_size = 0) {
  return read_chunks(in, {}, max_line, max_size);
}

Outcome read_bytewise(std::string_view in, std::size_t max_line = 0, std::uint64_t max_size = 0) {
  std::vector<std::size_t> cuts;
  for (std::size_t k = 1; k < in.size(); ++k) cuts.push_back(k);
  return read_chunks(in, cuts, max_line, max_size);
}

// For well-formed input every chunking gives exactly the same result.
void expect_same_for_every_split(std::string_view in, const Outcome& ref, std::size_t max_line = 0,
                                 std::uint64_t max_size = 0) {
  for (std::size_t k = 0; k <= in.size(); ++k) {
    Outcome o = read_chunks(in, {k}, max_line, max_size);
    EXPECT_EQ(o.wire, ref.wire) << "split at " << k;
    EXPECT_EQ(o.content, ref.content) << "split at " << k;
    EXPECT_EQ(o.consumed, ref.consumed) << "split at " << k;
    EXPECT_EQ(o.defects, ref.defects) << "split at " << k;
    EXPECT_EQ(o.done, ref.done) << "split at " << k;
    EXPECT_EQ(o.size, ref.size) << "split at " << k;
  }
  Outcome b = read_bytewise(in, max_line, max_size);
  EXPECT_EQ(b.wire, ref.wire) << "byte at a time";
  EXPECT_EQ(b.content, ref.content) << "byte at a time";
  EXPECT_EQ(b.consumed, ref.consumed) << "byte at a time";
  EXPECT_EQ(b.defects, ref.defects) << "byte at a time";
  EXPECT_EQ(b.done, ref.done) << "byte at a time";
  EXPECT_EQ(b.size, ref.size) << "byte at a time";
}

TEST(DataReader, SimpleMessage) {
  const std::string in = "Subject: hi\r\n\r\nhello\r\n.\r\n";
  Outcome o = read_whole(in);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.consumed, in.size());
  EXPECT_EQ(o.wire, "Subject: hi\r\n\r\nhello\r\n");
  EXPECT_EQ(o.content, "Subject: hi\r\n\r\nhello\r\n");
  EXPECT_EQ(o.size, o.content.size());
  expect_same_for_every_split(in, o);
}

// Field case BR-04: unstuff exactly one dot, re-stuff on output, byte-identical upstream.
TEST(DataReader, DotStuffingRoundTripBr04) {
  const std::string in = "Subject: dots\r\n\r\n...\r\n..\r\n..hidden\r\nend.\r\n.\r\n";
  Outcome o = read_whole(in);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.consumed, in.size());
  EXPECT_EQ(o.content, "Subject: dots\r\n\r\n..\r\n.\r\n.hidden\r\nend.\r\n");
  EXPECT_EQ(o.wire + ".\r\n", in) << "upstream gets what the client sent";
  EXPECT_EQ(o.size, o.content.size());
  expect_same_for_every_split(in, o);
}

TEST(DataReader, UnstuffedLeadingDotIsDropped) {
  // A client that forgot to stuff ".hidden": the receiver removes the dot (RFC 5321 §4.5.2),
  // and what goes upstream is the re-stuffed form of what was received.
  const std::string in = ".hidden\r\n.\r\n";
  Outcome o = read_whole(in);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.content, "hidden\r\n");
  EXPECT_EQ(o.wire, "hidden\r\n");
  expect_same_for_every_split(in, o);
}

TEST(DataReader, EmptyMessage) {
  Outcome o = read_whole(".\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.consumed, 3u);
  EXPECT_EQ(o.wire, "");
  EXPECT_EQ(o.content, "");
  EXPECT_EQ(o.size, 0u);
  expect_same_for_every_split(".\r\n", o);
}

TEST(DataReader, EmptyFirstLine) {
  const std::string in = "\r\n.\r\n";
  Outcome o = read_whole(in);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.content, "\r\n");
  EXPECT_EQ(o.wire, "\r\n");
  expect_same_for_every_split(in, o);
}

TEST(DataReader, LastLineOnlyDots) {
  for (const std::string& in : {"..\r\n.\r\n"s, "a\r\n...\r\n.\r\n"s, "a\r\n....\r\n.\r\n"s}) {
    Outcome o = read_whole(in);
    EXPECT_TRUE(o.done) << in;
    EXPECT_EQ(o.defects, 0u) << in;
    EXPECT_EQ(o.consumed, in.size()) << in;
    EXPECT_EQ(o.wire + ".\r\n", in);
    expect_same_for_every_split(in, o);
  }
  EXPECT_EQ(read_whole("..\r\n.\r\n").content, ".\r\n");
  EXPECT_EQ(read_whole("a\r\n...\r\n.\r\n").content, "a\r\n..\r\n");
}

TEST(DataReader, DotsInsideLinesAreContent) {
  const std::string in = "a.b\r\nend.\r\n x.\r\n. .\r\n";
  Outcome o = read_whole(in + ".\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.content, "a.b\r\nend.\r\n x.\r\n .\r\n");
  EXPECT_EQ(o.wire, o.content) << "\". .\" needs no stuffing once unstuffed";
}

TEST(DataReader, BytesAfterTerminatorAreNotConsumed) {
  const std::string msg = "Subject: x\r\n\r\nhi\r\n.\r\n";
  const std::string in = msg + "QUIT\r\n";
  Outcome o = read_whole(in);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.consumed, msg.size());
  EXPECT_EQ(o.wire, "Subject: x\r\n\r\nhi\r\n");
  expect_same_for_every_split(in, o);

  // The reader returns at once; feeding again after done consumes nothing.
  DataReader r(0, 0);
  std::string wire;
  EXPECT_EQ(r.feed(".\r\n.\r\n", &wire), 3u);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.feed("more\r\n", &wire), 0u);
  EXPECT_EQ(wire, "");
}

// Field case BR-01: legitimate CRLF traffic split across segments, terminator split at every
// byte position.
TEST(DataReader, TerminatorSplitAtEveryPosition) {
  const std::string in =
      "From: alice@example.com\r\nSubject: hi\r\n\r\nfirst message\r\n..stuffed\r\n.\r\n"
      "MAIL FROM:<next@example.org>\r\n";
  Outcome o = read_whole(in);
  ASSERT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.consumed, in.size() - std::string("MAIL FROM:<next@example.org>\r\n").size());
  EXPECT_EQ(o.wire, "From: alice@example.com\r\nSubject: hi\r\n\r\nfirst message\r\n..stuffed\r\n");
  expect_same_for_every_split(in, o);
}

TEST(DataReader, CrHeldAcrossChunks) {
  DataReader r(0, 0);
  std::string wire, content;
  EXPECT_EQ(r.feed("abc\r", &wire, &content), 4u);
  EXPECT_EQ(wire, "abc") << "the CR waits for its LF";
  EXPECT_EQ(r.feed("", &wire, &content), 0u);
  EXPECT_EQ(r.feed("\ndef\r", &wire, &content), 5u);
  EXPECT_EQ(wire, "abc\r\ndef");
  EXPECT_EQ(r.feed("\n.", &wire, &content), 2u);
  EXPECT_EQ(r.feed("\r", &wire, &content), 1u);
  EXPECT_FALSE(r.done());
  EXPECT_EQ(r.feed("\nNOOP\r\n", &wire, &content), 1u);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.defects(), 0u);
  EXPECT_EQ(wire, "abc\r\ndef\r\n");
  EXPECT_EQ(content, "abc\r\ndef\r\n");
}

TEST(DataReader, HeldCrFollowedByOtherOctetIsBare) {
  DataReader r(0, 0);
  std::string wire;
  r.feed("abc\r", &wire);
  r.feed("x\r\n.\r\n", &wire);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.defects(), unsigned{DataReader::kBareCr});
  EXPECT_EQ(wire, "abc");
}

TEST(DataReader, WireAndContentAreOptional) {
  const std::string in = "..a\r\nb\r\n.\r\n";
  DataReader only_wire(0, 0);
  std::string wire;
  EXPECT_EQ(only_wire.feed(in, &wire, nullptr), in.size());
  EXPECT_EQ(wire, "..a\r\nb\r\n");
  DataReader only_content(0, 0);
  std::string content;
  EXPECT_EQ(only_content.feed(in, nullptr, &content), in.size());
  EXPECT_EQ(content, ".a\r\nb\r\n");
  DataReader neither(0, 0);
  EXPECT_EQ(neither.feed(in, nullptr, nullptr), in.size());
  EXPECT_TRUE(neither.done());
  EXPECT_EQ(neither.size(), content.size());
}

// ---------------------------------------------------------------------------------------
// Smuggling (BR-01, BR-02): only CRLF "." CRLF ends the message.

struct Smuggle {
  const char* name;
  std::string variant;
  std::size_t defect_at;  // offset in `variant` of the first octet that is a defect
  unsigned defects;
};

const std::string kPrefix = "From: alice@example.com\r\nSubject: hi\r\n\r\nfirst message";
const std::string kSmuggled =
    "MAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
    "From: ceo@example.org\r\nSubject: urgent\r\n\r\nforged text\r\n.\r\n";
const std::string kAfter = "QUIT\r\n";

std::vector<Smuggle> smuggles() {
  constexpr unsigned kCr = DataReader::kBareCr;
  constexpr unsigned kLf = DataReader::kBareLf;
  return {
      {"<LF>.<CR><LF>", "\n.\r\n", 0, kLf},
      {"<LF>.<LF>", "\n.\n", 0, kLf},
      {"<CR><LF>.<LF>", "\r\n.\n", 3, kLf},
      {"<LF>.<CR>", "\n.\r", 0, kLf | kCr},
      {".<CR><LF> after a bare LF line", "\r\n\n.\r\n", 2, kLf},
      {".<CR><LF> after text and a bare LF", "\nx\n.\r\n", 0, kLf},
      {"<CR>.<CR>", "\r.\r", 0, kCr},
      {"<CR>.<CR><LF>", "\r.\r\n", 0, kCr},
      {"<CR><LF>.<CR>", "\r\n.\r", 3, kCr},
      {"a<CR>b", "a\rb\r\n", 1, kCr},
      {"<LF><CR>", "\n\r", 0, kLf | kCr},
      {"<CR><CR><LF>", "\r\r\n", 0, kCr},
  };
}

TEST(DataReaderSmuggling, NeverEndsEarly) {
  for (const Smuggle& s : smuggles()) {
    const std::string in = kPrefix + s.variant + kSmuggled + kAfter;
    const std::size_t first_defect = kPrefix.size() + s.defect_at;
    const std::size_t real_end = in.size() - kAfter.size();
    std::vector<std::vector<std::size_t>> chunkings = {{}};
    for (std::size_t k = 0; k <= in.size(); ++k) chunkings.push_back({k});
    std::vector<std::size_t> all;
    for (std::size_t k = 1; k < in.size(); ++k) all.push_back(k);
    chunkings.push_back(all);
    for (const auto& cuts : chunkings) {
      Outcome o = read_chunks(in, cuts);
      const std::string where = std::string(s.name) + " cuts=" + std::to_string(cuts.size()) +
                                (cuts.empty() ? "" : " first=" + std::to_string(cuts[0]));
      EXPECT_TRUE(o.done) << where;
      EXPECT_EQ(o.consumed, real_end) << where;
      EXPECT_EQ(o.defects, s.defects) << where;
      EXPECT_LE(o.wire.size(), first_defect) << where;
      EXPECT_EQ(o.wire, in.substr(0, o.wire.size())) << where;
      EXPECT_EQ(o.wire.find("\n."), std::string::npos) << where;
      EXPECT_EQ(o.wire.find("MAIL FROM"), std::string::npos) << where;
      EXPECT_LE(o.content.size(), first_defect) << where;
    }
  }
}

TEST(DataReaderSmuggling, FieldCaseBr01Trigger) {
  const std::string in =
      "From: alice@example.com\r\nSubject: hi\r\n\r\nfirst message\n.\r\n"
      "MAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
      "From: ceo@example.org\r\nSubject: urgent\r\n\r\nforged text\r\n.\r\n";
  Outcome o = read_whole(in);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.consumed, in.size()) << "one transaction: everything up to the real terminator";
  EXPECT_EQ(o.defects, unsigned{DataReader::kBareLf});
  EXPECT_EQ(o.wire, "");
}

TEST(DataReaderSmuggling, FieldCaseBr02Trigger) {
  const std::string in =
      "Subject: a\rb\r\n\r\nline one\nline two\r\n"
      "text\r.\rMAIL FROM:<ceo@example.org>\rRCPT TO:<bob@example.org>\rDATA\r"
      "Subject: forged\r\rx\r\n.\r\n";
  for (std::size_t k = 0; k <= in.size(); ++k) {
    Outcome o = read_chunks(in, {k});
    EXPECT_TRUE(o.done) << k;
    EXPECT_EQ(o.consumed, in.size()) << k;
    EXPECT_EQ(o.defects, unsigned{DataReader::kBareCr | DataReader::kBareLf}) << k;
    EXPECT_LE(o.wire.size(), std::string("Subject: a").size()) << k;
    EXPECT_EQ(o.wire, in.substr(0, o.wire.size())) << k;
  }
}

TEST(DataReaderSmuggling, NulIsADefectWhereverItIsAndHowEverSplit) {
  // Probe round 20: "CRLF NUL . CRLF" was relayed; a hop that drops NUL reads it as the end
  // of data. NUL is allowed in neither 7bit nor 8bit content (RFC 2045 §2.7, §2.8).
  for (const std::string& msg :
       {"Subject: a\r\n\r\nfirst\r\n\0.\r\nMAIL FROM:<x@y>\r\n.\r\n"s,
        "a\0b\r\n.\r\n"s, "\0\r\n.\r\n"s, "..\0\r\n.\r\n"s, "x\r\n.\0\r\n.\r\n"s}) {
    const Outcome whole = read_whole(msg);
    EXPECT_TRUE(whole.done);
    EXPECT_EQ(whole.consumed, msg.size());
    EXPECT_EQ(whole.defects, unsigned{DataReader::kNul});
    EXPECT_EQ(whole.wire.find('\0'), std::string::npos) << "NUL never reaches the upstream";
    EXPECT_EQ(read_bytewise(msg).defects, unsigned{DataReader::kNul});
  }
  EXPECT_EQ(read_whole("no nul here\r\n.\r\n").defects, 0u);
}

TEST(DataReaderSmuggling, BareLfAloneInTheMiddle) {
  Outcome o = read_whole("line one\nline two\r\n.\r\n");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, unsigned{DataReader::kBareLf});
  EXPECT_EQ(o.wire, "");
}

TEST(DataReaderSmuggling, NothingIsEmittedAfterADefect) {
  DataReader r(0, 0);
  std::string wire, content;
  r.feed("good line\r\n", &wire, &content);
  EXPECT_EQ(wire, "good line\r\n");
  r.feed("bad\nline\r\n", &wire, &content);
  r.feed("more\r\n..dots\r\n", &wire, &content);
  EXPECT_FALSE(r.done());
  r.feed(".\r\n", &wire, &content);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(wire, "good line\r\n");
  EXPECT_EQ(content, "good line\r\n");
  EXPECT_EQ(r.size(), std::string("good line\r\nbad\nline\r\nmore\r\n.dots\r\n").size())
      << "size keeps counting after a defect";
}

// ---------------------------------------------------------------------------------------
// Limits (RFC 5321 §4.5.3.1.6, RFC 1870; field case BR-13)

TEST(DataReaderLimits, TextLineOf1000OctetsIncludingCrlf) {
  const std::string ok = std::string(998, 'x') + "\r\n";
  Outcome o = read_whole(ok + ".\r\n", 1000);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.wire, ok);
  expect_same_for_every_split(ok + ".\r\n", o, 1000);

  const std::string bad = std::string(999, 'x') + "\r\n";
  o = read_whole("Subject: long\r\n\r\n" + bad + ".\r\n", 1000);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, unsigned{DataReader::kLineTooLong});
  EXPECT_EQ(o.consumed, std::string("Subject: long\r\n\r\n").size() + bad.size() + 3);
  Outcome b = read_bytewise("Subject: long\r\n\r\n" + bad + ".\r\n", 1000);
  EXPECT_EQ(b.defects, unsigned{DataReader::kLineTooLong});
  EXPECT_TRUE(b.done);
}

TEST(DataReaderLimits, StuffingDotIsNotCounted) {
  // RFC 5321 §4.5.3.1.6: 1000 octets with the CRLF, "not counting the leading dot
  // duplicated for transparency". A 998-octet line starting with "." is 1001 on the wire.
  const std::string ok = "." + std::string(998, '.') + "\r\n";
  Outcome o = read_whole("Subject: s\r\n\r\n" + ok + ".\r\n", 1000);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.wire, "Subject: s\r\n\r\n" + ok);  // re-stuffed as it came
  expect_same_for_every_split("Subject: s\r\n\r\n" + ok + ".\r\n", o, 1000);
  const std::string bad = "." + std::string(999, '.') + "\r\n";
  EXPECT_EQ(read_whole(bad + ".\r\n", 1000).defects, unsigned{DataReader::kLineTooLong});
  const std::string plain_bad = std::string(999, 'k') + "\r\n";  // no dot: 1001 octets
  EXPECT_EQ(read_whole(plain_bad + ".\r\n", 1000).defects, unsigned{DataReader::kLineTooLong});
}

TEST(DataReaderLimits, EightBitOnlyWhenRefused) {
  const std::string in = "Subject: gr\xc3\xbc\xc3\x9f" "e\r\n\r\nplain\r\n.\r\n";
  EXPECT_EQ(read_whole(in).defects, 0u);  // by default 8-bit passes
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    DataReader r(1000, 0);
    r.refuse_8bit();
    std::string wire;
    std::size_t used = r.feed(std::string_view(in).substr(0, cut), &wire);
    used += r.feed(std::string_view(in).substr(used), &wire);
    EXPECT_TRUE(r.done()) << cut;
    EXPECT_EQ(used, in.size()) << cut;
    EXPECT_EQ(r.defects(), unsigned{DataReader::kEightBit}) << cut;
    EXPECT_EQ(wire.find('\xc3'), std::string::npos) << cut;  // no 8-bit octet went out
  }
  DataReader ascii(1000, 0);
  ascii.refuse_8bit();
  std::string wire;
  ascii.feed("Subject: plain\r\n\r\n..dot\r\n.\r\n", &wire);
  EXPECT_EQ(ascii.defects(), 0u);
  EXPECT_EQ(wire, "Subject: plain\r\n\r\n..dot\r\n");
}

TEST(DataReaderLimits, EveryLineIsChecked) {
  const std::string in = "short\r\n" + std::string(1200, 'y') + "\r\nshort again\r\n.\r\n";
  Outcome o = read_whole(in, 1000);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, unsigned{DataReader::kLineTooLong});
  EXPECT_EQ(o.consumed, in.size());
  // Many short lines whose sum exceeds the limit are fine.
  std::string many;
  for (int i = 0; i < 100; ++i) many += std::string(50, 'z') + "\r\n";
  EXPECT_EQ(read_whole(many + ".\r\n", 1000).defects, 0u);
}

TEST(DataReaderLimits, ReadingContinuesToTheRealTerminatorBr13) {
  const std::string in =
      "Subject: long\r\n\r\n" + std::string(5000, 'x') + "\r\nRSET\r\n.\r\nQUIT\r\n";
  for (std::size_t k : {0ul, 10ul, 100ul, 1000ul, 5017ul, 5019ul, 5025ul}) {
    Outcome o = read_chunks(in, {k}, 1000);
    EXPECT_TRUE(o.done) << k;
    EXPECT_EQ(o.consumed, in.size() - 6) << k;
    EXPECT_EQ(o.defects, unsigned{DataReader::kLineTooLong}) << k;
    EXPECT_EQ(o.wire.find("RSET"), std::string::npos) << k;
  }
}

TEST(DataReaderLimits, MaxSizeCountsUnstuffedOctets) {
  const std::string in = "abc\r\n..\r\n.\r\n";  // content "abc\r\n.\r\n" = 8 octets
  Outcome o = read_whole(in, 0, 8);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, 0u);
  EXPECT_EQ(o.size, 8u);
  expect_same_for_every_split(in, o, 0, 8);

  o = read_whole(in, 0, 7);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, unsigned{DataReader::kTooBig});
  EXPECT_EQ(o.size, 8u);
  EXPECT_EQ(o.consumed, in.size());
  for (std::size_t k = 0; k <= in.size(); ++k) {
    Outcome s = read_chunks(in, {k}, 0, 7);
    EXPECT_EQ(s.defects, unsigned{DataReader::kTooBig}) << k;
    EXPECT_EQ(s.consumed, in.size()) << k;
  }
}

TEST(DataReaderLimits, OversizeMessageReadToTheEnd) {
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "line of text number " + std::to_string(i) + "\r\n";
  const std::string in = body + ".\r\nNOOP\r\n";
  Outcome o = read_whole(in, 1000, 2000);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, unsigned{DataReader::kTooBig});
  EXPECT_EQ(o.consumed, body.size() + 3);
  EXPECT_EQ(o.size, body.size());
  EXPECT_EQ(o.wire, "");
}

TEST(DataReaderLimits, AllDefectsCombine) {
  const std::string in = std::string(1500, 'q') + "\r\na\rb\nc\r\n.\r\n";
  Outcome o = read_whole(in, 1000, 100);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.defects, unsigned{DataReader::kLineTooLong | DataReader::kTooBig |
                                DataReader::kBareCr | DataReader::kBareLf});
}

// A content line that starts with "." owes its stuffing dot to the wire; when that line is
// where the message goes over a limit, the dot must not go out alone ("\n." on the wire).
TEST(DataReaderLimits, RestuffDotNeverGoesOutAheadOfADefect) {
  const std::string in = "abc\r\n...\r\n.\r\n";  // content "abc\r\n" then ".."
  for (std::size_t k = 0; k <= in.size(); ++k) {
    Outcome o = read_chunks(in, {k}, 0, 5);
    EXPECT_EQ(o.defects, unsigned{DataReader::kTooBig}) << k;
    EXPECT_TRUE(o.done) << k;
    EXPECT_EQ(o.wire.find("\n."), std::string::npos) << k << ": " << o.wire;
    EXPECT_LE(o.wire.size(), 5u) << k;
    EXPECT_EQ(o.wire, in.substr(0, o.wire.size())) << k;
  }
  Outcome b = read_bytewise(in, 0, 5);
  EXPECT_EQ(b.wire, "abc\r\n");
  EXPECT_EQ(b.wire.find("\n."), std::string::npos);
}

// A CR held at a chunk end is emitted only once its octets are counted.
TEST(DataReaderLimits, HeldCrNotEmittedPastTheSizeLimit) {
  const std::string in = "abc\r\n.\r\n";
  for (std::size_t k = 0; k <= in.size(); ++k) {
    Outcome o = read_chunks(in, {k}, 0, 3);
    EXPECT_EQ(o.defects, unsigned{DataReader::kTooBig}) << k;
    EXPECT_LE(o.content.size(), 3u) << k;
    EXPECT_LE(o.wire.size(), 3u) << k;
  }
  EXPECT_LE(read_bytewise(in, 0, 3).content.size(), 3u);
}

TEST(DataReaderLimits, TerminatorLineIsNotATextLine) {
  EXPECT_EQ(read_whole(".\r\n", 1).defects, 0u);
  EXPECT_EQ(read_bytewise(".\r\n", 1).defects, 0u);
  EXPECT_EQ(read_whole("\r\n.\r\n", 2).defects, 0u);
  EXPECT_EQ(read_whole("a\r\n.\r\n", 2).defects, unsigned{DataReader::kLineTooLong});
  // ".\rx\r\n" is 4 octets without its leading (stuffing) dot.
  EXPECT_EQ(read_whole(".\rx\r\n.\r\n", 4).defects, unsigned{DataReader::kBareCr});
  EXPECT_EQ(read_whole(".\rx\r\n.\r\n", 3).defects,
            unsigned{DataReader::kBareCr | DataReader::kLineTooLong});
}

// Differential test against the whole-buffer model, on inputs dense in CR, LF and dots, fed
// in random chunks, with small limits so that every defect and its position get exercised.
TEST(DataReaderModelTest, AgreesWithTheNaiveModel) {
  std::mt19937 rng(5321);
  const char alphabet[] = {'\r', '\n', '.', 'a', '\r', '\n', '.', 'b'};
  int done_count = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string in;
    std::size_t len = rng() % 24;
    for (std::size_t k = 0; k < len; ++k) in += alphabet[rng() % sizeof alphabet];
    if (rng() % 2) in += "\r\n.\r\n";
    if (rng() % 4 == 0) in += "NOOP\r\n";
    std::size_t max_line = rng() % 3 == 0 ? 0 : rng() % 8 + 1;
    std::uint64_t max_size = rng() % 3 == 0 ? 0 : rng() % 12 + 1;
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 5 + 1; at < in.size(); at += rng() % 5 + 1) cuts.push_back(at);

    Outcome o = read_chunks(in, cuts, max_line, max_size);
    model::DataReaderModel m = model::model_data_reader(in, max_line, max_size);
    const std::string where = testing::PrintToString(in) + " max_line=" + std::to_string(max_line) +
                              " max_size=" + std::to_string(max_size);
    ASSERT_EQ(o.done, m.done) << where;
    if (max_size != 0) {
      ASSERT_LE(o.content.size(), max_size) << where;
    }
    if (!m.done) {
      ASSERT_EQ(o.consumed, in.size()) << where;
      continue;
    }
    ++done_count;
    ASSERT_EQ(o.consumed, m.consumed) << where;
    ASSERT_EQ(o.defects, m.defects) << where;
    ASSERT_EQ(o.size, m.size) << where;
    if (m.defects == 0) {
      ASSERT_EQ(o.wire, m.wire) << where;
      ASSERT_EQ(o.content, m.content) << where;
    } else {
      ASSERT_LE(o.wire.size(), m.wire_before_defect) << where;
      ASSERT_EQ(o.wire, m.wire.substr(0, o.wire.size())) << where;
      ASSERT_LE(o.content.size(), m.content_before_defect) << where;
      ASSERT_EQ(o.content, m.content.substr(0, o.content.size())) << where;
    }
  }
  EXPECT_GT(done_count, 5000) << "the generator must produce terminated messages";
}

// Limits crossed anywhere in a message, right up to the octet before the terminator, with
// the message whole or cut anywhere: the defect is always reported, and nothing from the
// over-long line on reaches the wire.
TEST(DataReaderLimits, EveryLimitValueAcrossALongMessage) {
  // Bodies of every length from 70 to 260 octets (lines of up to 50 octets), so that the
  // last block before the terminator ends at each offset; every size and line limit near.
  for (std::size_t length = 70; length <= 260; ++length) {
    std::string body;
    while (body.size() < length) {
      const std::size_t room = length - body.size();
      const std::size_t line = room <= 52 ? room : std::min<std::size_t>(50, room - 4);
      body += std::string(line - 2, 'm') + "\r\n";
    }
    ASSERT_EQ(body.size(), length);
    std::size_t longest = 0;
    for (std::size_t at = 0; at < body.size();) {
      const std::size_t end = body.find("\r\n", at) + 2;
      longest = std::max(longest, end - at);
      at = end;
    }
    const std::string in = body + ".\r\n";
    for (std::uint64_t max_size = length - 66; max_size <= length + 1; ++max_size) {
      const Outcome o = read_whole(in, 0, max_size);
      ASSERT_TRUE(o.done);
      ASSERT_EQ(o.defects, length > max_size ? unsigned{DataReader::kTooBig} : 0u)
          << "length " << length << " max_size " << max_size;
      ASSERT_EQ(o.size, length);
    }
    for (std::size_t max_line = longest - 3; max_line <= longest + 1; ++max_line) {
      const Outcome o = read_whole(in, max_line, 0);
      ASSERT_TRUE(o.done);
      ASSERT_EQ(o.defects, longest > max_line ? unsigned{DataReader::kLineTooLong} : 0u)
          << "length " << length << " max_line " << max_line;
      // Cut anywhere, nothing from the over-long line on goes to the wire.
      const model::DataReaderModel m = model::model_data_reader(in, max_line, 0);
      for (std::size_t cut = 1; cut < in.size(); cut += 3) {
        const Outcome c = read_chunks(in, {cut}, max_line, 0);
        ASSERT_EQ(c.defects, o.defects) << "length " << length << " cut " << cut;
        ASSERT_LE(c.wire.size(), m.wire_before_defect)
            << "length " << length << " max_line " << max_line << " cut " << cut;
      }
    }
  }
}

// A longer well-formed message with a stuffed line: the same result however it is cut.
TEST(DataReader, LongPlainMessageEveryChunkSize) {
  std::string body;
  for (int k = 0; k < 40; ++k) {
    body += std::string(static_cast<std::size_t>(k * 7 % 97), static_cast<char>('a' + k % 26));
    body += "\r\n";
  }
  body += "..dot line\r\n.\r\n";
  const std::string in = body + "QUIT\r\n";
  const Outcome ref = read_whole(in);
  ASSERT_TRUE(ref.done);
  ASSERT_EQ(ref.defects, 0u);
  EXPECT_EQ(ref.wire, body.substr(0, body.size() - 3));
  EXPECT_EQ(ref.consumed, body.size());
  for (std::size_t step = 1; step < 200; ++step) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = step; at < in.size(); at += step) cuts.push_back(at);
    const Outcome o = read_chunks(in, cuts);
    ASSERT_EQ(o.wire, ref.wire) << "step " << step;
    ASSERT_EQ(o.content, ref.content) << "step " << step;
    ASSERT_EQ(o.consumed, ref.consumed) << "step " << step;
    ASSERT_EQ(o.size, ref.size) << "step " << step;
  }
}

// ---------------------------------------------------------------------------------------
// append_dot_stuffed

TEST(AppendDotStuffed, Basics) {
  std::string wire;
  append_dot_stuffed("abc", wire);
  EXPECT_EQ(wire, "abc\r\n.\r\n") << "CRLF added when missing";

  wire.clear();
  append_dot_stuffed("abc\r\n", wire);
  EXPECT_EQ(wire, "abc\r\n.\r\n");

  wire.clear();
  append_dot_stuffed("", wire);
  EXPECT_EQ(wire, ".\r\n") << "empty message";

  wire.clear();
  append_dot_stuffed(".\r\n..\r\n.hidden\r\nend.\r\n", wire);
  EXPECT_EQ(wire, "..\r\n...\r\n..hidden\r\nend.\r\n.\r\n");

  wire.clear();
  append_dot_stuffed(".", wire);
  EXPECT_EQ(wire, "..\r\n.\r\n");

  wire = "DATA prefix|";
  append_dot_stuffed("x\r\n.y", wire);
  EXPECT_EQ(wire, "DATA prefix|x\r\n..y\r\n.\r\n") << "appends, never clears";
}

TEST(AppendDotStuffed, RoundTripsWithDataReader) {
  std::mt19937 rng(20240229);
  const char alphabet[] = {'.', '.', '.', 'a', 'Z', ' ', '\t', '0', '\xc3', '\xa9'};
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string message;
    int lines = static_cast<int>(rng() % 8);
    for (int l = 0; l < lines; ++l) {
      int len = static_cast<int>(rng() % 12);
      for (int c = 0; c < len; ++c) message += alphabet[rng() % sizeof alphabet];
      if (l + 1 < lines || rng() % 2 == 0) message += "\r\n";
    }
    std::string wire;
    append_dot_stuffed(message, wire);
    ASSERT_GE(wire.size(), 3u);
    ASSERT_EQ(wire.substr(wire.size() - 3), ".\r\n");

    std::string expected = message;
    if (!expected.empty() &&
        !(expected.size() >= 2 && expected.substr(expected.size() - 2) == "\r\n")) {
      expected += "\r\n";
    }
    std::vector<std::size_t> cuts;
    for (std::size_t at = rng() % 7 + 1; at < wire.size(); at += rng() % 7 + 1) cuts.push_back(at);
    Outcome o = read_chunks(wire + "NEXT\r\n", cuts);
    ASSERT_TRUE(o.done) << testing::PrintToString(message);
    EXPECT_EQ(o.defects, 0u) << testing::PrintToString(message);
    EXPECT_EQ(o.consumed, wire.size()) << testing::PrintToString(message);
    EXPECT_EQ(o.content, expected) << testing::PrintToString(message);
    EXPECT_EQ(o.wire + ".\r\n", wire) << testing::PrintToString(message);
  }
}

}  // namespace
}  // namespace gw::smtp

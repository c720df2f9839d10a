// EndOfDataScanner: the terminator found whole, split over chunks, and not found in content.
#include "tests/bench/tls/end_of_data.h"

#include <gtest/gtest.h>

#include <string>

namespace gw::bench {
namespace {

constexpr auto npos = EndOfDataScanner::npos;

TEST(EndOfDataScanner, FindsTerminatorInOneChunk) {
  EndOfDataScanner s;
  std::string body = "Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n";
  EXPECT_EQ(s.feed(body), body.find("QUIT"));
}

TEST(EndOfDataScanner, EmptyBodyEndsAtOnce) {
  EndOfDataScanner s;
  EXPECT_EQ(s.feed(".\r\nQUIT\r\n"), 3u);
}

TEST(EndOfDataScanner, DotLinesAreContent) {
  EndOfDataScanner s;
  EXPECT_EQ(s.feed("a\r\n..\r\n.x\r\n\n.\n\r.\r\n"), npos);
  EXPECT_EQ(s.feed("b\r\n.\r\n"), 6u);
}

TEST(EndOfDataScanner, TerminatorSplitAtEveryOffset) {
  std::string body = "line one\r\nline two\r\n.\r\nNEXT";
  std::size_t end = body.find("NEXT");
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    EndOfDataScanner s;
    std::size_t first = s.feed(std::string_view(body).substr(0, cut));
    if (first != npos) {
      EXPECT_EQ(first, end) << "cut " << cut;
      continue;
    }
    EXPECT_EQ(s.feed(std::string_view(body).substr(cut)), end - cut) << "cut " << cut;
  }
}

TEST(EndOfDataScanner, OneOctetAtATime) {
  std::string body = "x\r\n\r\n.\r\r\n.\r\n";
  EndOfDataScanner s;
  std::size_t at = npos;
  for (std::size_t i = 0; i < body.size() && at == npos; ++i) {
    if (s.feed(std::string_view(body).substr(i, 1)) != npos) at = i + 1;
  }
  EXPECT_EQ(at, body.size());
}

TEST(EndOfDataScanner, ReadyForTheNextMessage) {
  EndOfDataScanner s;
  EXPECT_EQ(s.feed("a\r\n.\r"), npos);
  EXPECT_EQ(s.feed("\n"), 1u);
  EXPECT_EQ(s.feed("b\r\n"), npos);
  EXPECT_EQ(s.feed(".\r\n"), 3u);
}

}  // namespace
}  // namespace gw::bench

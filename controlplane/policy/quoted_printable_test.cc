// Quoted-printable decoding and encoding (RFC 2045 §6.7).
#include "controlplane/policy/quoted_printable.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace gw::controlplane::policy {
namespace {

using namespace std::string_literals;

TEST(QuotedPrintable, DecodesEscapesSoftBreaksAndTransportWhitespace) {
  EXPECT_EQ(qp_decode("EICAR=2DSTANDARD\r\n"), "EICAR-STANDARD\r\n");
  EXPECT_EQ(qp_decode("EICAR-STAN=\r\nDARD\r\n"), "EICAR-STANDARD\r\n");  // soft line break
  EXPECT_EQ(qp_decode("EICAR-STAN= \t\r\nDARD\r\n"), "EICAR-STANDARD\r\n");  // "=" then spaces
  EXPECT_EQ(qp_decode("caf=c3=a9 and caf=C3=A9\r\n"), "caf\xc3\xa9 and caf\xc3\xa9\r\n");
  EXPECT_EQ(qp_decode("trailing   \r\nkept=20\r\n"), "trailing\r\nkept \r\n");
  EXPECT_EQ(qp_decode("LF only=\nline\n"), "LF onlyline\r\n");
  EXPECT_EQ(qp_decode("no final break"), "no final break");
  EXPECT_EQ(qp_decode("soft at the end="), "soft at the end");
}

TEST(QuotedPrintable, InvalidEscapesStayAsTheyAre) {
  // What Python's quopri and libmime do: the "=" and what follows are kept.
  EXPECT_EQ(qp_decode("a=ZZb =4 =\x80 x=3\r\n"), "a=ZZb =4 =\x80 x=3\r\n");
  EXPECT_EQ(qp_decode("==41\r\n"), "=A\r\n");
}

TEST(QuotedPrintable, EncodeRoundTripsAndKeepsLinesShort) {
  std::mt19937 rng(2045);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int lines = static_cast<int>(rng() % 5);
    for (int l = 0; l < lines; ++l) {
      const std::size_t length = rng() % 3 == 0 ? rng() % 300 : rng() % 40;
      for (std::size_t k = 0; k < length; ++k) {
        const unsigned pick = rng() % 10;
        text += pick < 5 ? static_cast<char>('a' + rng() % 26)
                : pick < 7 ? (rng() % 2 ? ' ' : '\t')
                : pick < 8 ? '='
                           : static_cast<char>(rng() % 256);
      }
      // Lines end in CRLF; a CR or LF inside one would not be text.
      for (char& c : text) {
        if (c == '\r' || c == '\n') c = 'x';
      }
      text += "\r\n";
    }
    const std::string encoded = qp_encode(text);
    ASSERT_EQ(qp_decode(encoded), text) << testing::PrintToString(text);
    std::size_t start = 0;
    while (start < encoded.size()) {
      const std::size_t end = encoded.find("\r\n", start);
      ASSERT_NE(end, std::string::npos);
      const std::string_view line = std::string_view(encoded).substr(start, end - start);
      ASSERT_LE(line.size(), 76u) << line;
      for (char c : line) {
        const auto octet = static_cast<unsigned char>(c);
        ASSERT_TRUE((octet >= 32 && octet <= 126) || c == '\t') << testing::PrintToString(line);
      }
      if (!line.empty()) {
        ASSERT_NE(line.back(), ' ');
        ASSERT_NE(line.back(), '\t');
      }
      start = end + 2;
    }
  }
}

}  // namespace
}  // namespace gw::controlplane::policy

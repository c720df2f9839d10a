// printable_line and utf8_sequence_length (probe round 8: policy replies echoed C1 controls
// and broken UTF-8 from client data to the client).
#include "common/printable_line.h"

#include <gtest/gtest.h>

#include <string>

namespace gw::common {
namespace {

TEST(Utf8SequenceLengthTest, WellFormedAndIllFormed) {
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xc3\xa9", 0), 2u);          // é
  EXPECT_EQ(utf8_sequence_length("\xe2\x82\xac", 0), 3u);      // €
  EXPECT_EQ(utf8_sequence_length("\xf0\x9f\x98\x80", 0), 4u);  // U+1F600
  EXPECT_EQ(utf8_sequence_length("\xc3", 0), 0u);              // cut off
  EXPECT_EQ(utf8_sequence_length("\x80", 0), 0u);              // lone continuation
  EXPECT_EQ(utf8_sequence_length("\xc0\xaf", 0), 0u);          // overlong '/'
  EXPECT_EQ(utf8_sequence_length("\xe0\x80\xaf", 0), 0u);      // overlong
  EXPECT_EQ(utf8_sequence_length("\xed\xa0\x80", 0), 0u);      // surrogate U+D800
  EXPECT_EQ(utf8_sequence_length("\xf4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(utf8_sequence_length("\xff", 0), 0u);
  EXPECT_EQ(utf8_sequence_length("x\xc3\xa9", 1), 2u);
}

TEST(Has8bitTest, AnyOctetFrom0x80) {
  EXPECT_FALSE(has_8bit(""));
  EXPECT_FALSE(has_8bit("plain \x7f ASCII\r\n"));
  EXPECT_TRUE(has_8bit("gr\xc3\xbc\xc3\x9f" "e"));
  EXPECT_TRUE(has_8bit(std::string_view("\0\x80", 2)));
}

TEST(ToValidUtf8Test, ReplacesEachIllFormedOctetAndKeepsTheRest) {
  EXPECT_EQ(to_valid_utf8(""), "");
  EXPECT_EQ(to_valid_utf8("caf\xc3\xa9 \xe2\x82\xac\r\n"), "caf\xc3\xa9 \xe2\x82\xac\r\n");
  EXPECT_EQ(to_valid_utf8("P\xe4ss"), "P\xef\xbf\xbdss");
  EXPECT_EQ(to_valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");      // overlong
  EXPECT_EQ(to_valid_utf8("a\xe2\x82"), "a\xef\xbf\xbd\xef\xbf\xbd");    // cut off
  EXPECT_EQ(to_valid_utf8("\xed\xa0\x80x"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");  // surrogate
  EXPECT_TRUE(is_valid_utf8(to_valid_utf8("\xff\xfe\x80\xc3")));
}

TEST(PrintableLineTest, KeepsPrintableAsciiAndUtf8) {
  EXPECT_EQ(printable_line("550 5.7.1 Sender a@b.example refused", 512),
            "550 5.7.1 Sender a@b.example refused");
  EXPECT_EQ(printable_line("caf\xc3\xa9 \xe2\x82\xac", 512), "caf\xc3\xa9 \xe2\x82\xac");
}

TEST(PrintableLineTest, ReplacesEveryKindOfLineBreakAndControl) {
  EXPECT_EQ(printable_line("a\r\n250 b\t\x7f", 512), "a??250 b??");
  EXPECT_EQ(printable_line(std::string("a\0b", 3), 512), "a?b");
  // NEL (U+0085) and the other C1 controls, CSI (U+009B), U+2028 and U+2029 are line
  // breaks or terminal controls to some readers: each becomes one '?'.
  EXPECT_EQ(printable_line("ok\xc2\x85"
                           "250 2.0.0 Queued",
                           512),
            "ok?250 2.0.0 Queued");
  EXPECT_EQ(printable_line("x\xc2\x9b"
                           "2J",
                           512),
            "x?2J");
  EXPECT_EQ(printable_line("a\xe2\x80\xa8"
                           "b\xe2\x80\xa9"
                           "c",
                           512),
            "a?b?c");
  // Bidirectional formatting characters reorder the rest of the line on screen (probe round
  // 20: U+202E from an AUTH identity reversed a `gctl audit` row).
  EXPECT_EQ(printable_line("abc\xe2\x80\xae" "def", 512), "abc?def");  // U+202E
  EXPECT_EQ(printable_line("a\xe2\x80\xaa" "b\xe2\x81\xa6" "c\xe2\x81\xa9" "d", 512),
            "a?b?c?d");
  EXPECT_EQ(printable_line("\xe2\x80\xad", 512), "?");  // U+202D
  // The marks (LRM, RLM, ALM) are part of ordinary Hebrew and Arabic text: kept.
  const std::string marks = "a\xe2\x80\x8e" "b\xe2\x80\x8f" "c\xd8\x9c" "d";
  EXPECT_EQ(printable_line(marks, 512), marks);
  // U+00A0 and U+2027 are printable and stay.
  EXPECT_EQ(printable_line("a\xc2\xa0"
                           "b\xe2\x80\xa7",
                           512),
            "a\xc2\xa0"
            "b\xe2\x80\xa7");
}

TEST(PrintableLineTest, IllFormedOctetsBecomeOneQuestionMarkEach) {
  EXPECT_EQ(printable_line("a\xff\xfe"
                           "b",
                           512),
            "a??b");
  EXPECT_EQ(printable_line("a\xc3", 512), "a?");  // cut-off sequence
  EXPECT_EQ(printable_line("a\xc0\xaf"
                           "b",
                           512),
            "a??b");                                      // overlong
  EXPECT_EQ(printable_line("\xed\xa0\x80", 512), "???");  // surrogate
}

TEST(PrintableLineTest, CutsBeforeACharacterThatDoesNotFit) {
  EXPECT_EQ(printable_line("abcdef", 3), "abc");
  EXPECT_EQ(printable_line("ab\xe2\x82\xac", 4), "ab");  // € needs 3 octets, 2 left
  EXPECT_EQ(printable_line("ab\xe2\x82\xac", 5), "ab\xe2\x82\xac");
  EXPECT_EQ(printable_line("abc", 0), "");
}

}  // namespace
}  // namespace gw::common

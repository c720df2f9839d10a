#include "controlplane/policy/charset.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "controlplane/policy/base64.h"
#include "controlplane/policy/mime_message.h"

namespace gw::controlplane::policy {
namespace {

using Reading = CharsetPlan::Reading;

std::optional<std::string> decode(std::string_view octets, std::string_view charset) {
  return decoded_text_for_matching(octets, plan_charset(charset));
}

TEST(Charset, PlansFollowIconvAndPythonNames) {
  for (const char* name : {"", "us-ascii", "UTF-8", "utf8", "iso-8859-1", "ISO-8859-15",
                           "iso8859_2", "latin1", "windows-1252", "cp1251", "koi8-r",
                           "unknown-8bit", "x-no-such-charset"}) {
    EXPECT_EQ(plan_charset(name).reading, Reading::kAsIs) << name;
  }
  // iconv's names and Python's spellings of them (probe round 26: utf_16, u16, utf-16//,
  // unicode-1-1-utf-7), stateful ISO-2022 (escapes vanish when decoded), EBCDIC, CJK.
  for (const char* name : {"utf-16", "UTF-16LE", "utf-16be", "utf_16", "u16", "utf-16-le",
                           "utf_16_be", "utf-32", "utf_32_be", "u32", "utf-7", "u7", "utf_7",
                           "unicode-1-1-utf-7", "utf-16//", " UTF 16 ", "ibm037", "cp037",
                           "iso-2022-jp", "ISO-2022-JP-2", "shift_jis", "gb18030", "big5"}) {
    EXPECT_EQ(plan_charset(name).reading, Reading::kDecode) << name;
  }
  // Decoders only Python has, which turn ASCII into other ASCII: refused.
  for (const char* name : {"unicode_escape", "raw_unicode_escape", "raw-unicode-escape", "hz",
                           "hz-gb-2312", "HZGB", "punycode", "idna"}) {
    EXPECT_EQ(plan_charset(name).reading, Reading::kUndecodable) << name;
  }
}

TEST(Charset, TextIsDecodedToUtf8ForMatching) {
  // "hi MARK" in UTF-16 with a BOM, both byte orders without one, UTF-7 with a letter in
  // base64 ("+AE0-" is "M"), UTF-32, ISO-2022-JP escapes inside ASCII, EBCDIC.
  const std::string le("\xff\xfeh\0i\0 \0M\0A\0R\0K\0", 16);
  auto text = decode(le, "utf-16");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hi MARK");
  const std::string be_no_bom("\0h\0i\0 \0M\0A\0R\0K", 14);
  text = decode(be_no_bom, "UTF-16");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("hi MARK"), std::string::npos) << *text;
  const std::string le_no_bom("h\0i\0 \0M\0A\0R\0K\0", 14);
  text = decode(le_no_bom, "utf_16");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("hi MARK"), std::string::npos) << *text;
  text = decode("hi +AE0-ARK", "u7");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hi MARK");
  text = decode(std::string("\0\0\0M\0\0\0A", 8), "utf-32be");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "MA");
  // ISO-2022: glibc's decoding, then the text without escapes and shifts.
  text = decode("hello SECRET\x1b(BMARK", "iso-2022-jp");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hello SECRETMARK\r\nhello SECRETMARK");
  text = decode("\xd4\xc1\xd9\xd2", "cp037");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "MARK");
  // Invalid sequences are skipped, shown as U+FFFD as readers do, the rest still decoded.
  text = decode(std::string("\xff\xfeM\0\xd8", 5), "utf-16");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "M\xef\xbf\xbd");
  // Plain ASCII supersets and unknown names: nothing to add.
  EXPECT_FALSE(decode("MARK", "iso-8859-1"));
  EXPECT_FALSE(decode("MARK", "x-unknown"));
}

// Probe round 32: names Python or Java decode, which glibc spells otherwise or not at all,
// were matched as octets; a marker in UTF-16 or EBCDIC under such a name passed.
TEST(Charset, OtherSpellingsOfNonAsciiFamiliesAreDecoded) {
  const std::string le("S\0E\0C\0R\0E\0T\0M\0A\0R\0K\0", 20);
  const std::string be("\0S\0E\0C\0R\0E\0T\0M\0A\0R\0K", 20);
  const std::string ebcdic("\xe2\xc5\xc3\xd9\xc5\xe3\xd4\xc1\xd9\xd2");  // SECRETMARK
  struct Case {
    const char* name;
    std::string octets;
  };
  const Case cases[] = {
      {"unicodelittleunmarked", le}, {"UnicodeBigUnmarked", be}, {"UnicodeLittle", le},
      {"x-UTF-16LE-BOM", le},        {"X-UTF-16LE", le},         {"ISO-10646-UCS-2", be},
      {"037", ebcdic},               {"ibm039", ebcdic},         {"273", ebcdic},
      {"1140", ebcdic},              {"IBM01140", ebcdic},       {"ibm-1140", ebcdic},
      {"ccsid01140", ebcdic},        {"cp01141", ebcdic},        {"ibm-37", ebcdic},
      {"cs-ebcdic-cp-us", ebcdic},   {"ebcdic-us-037+euro", ebcdic},
      {"x-ebcdic-no-such-page", ebcdic},
      {"x-utf16-no-such-variant", le},
  };
  for (const auto& c : cases) {
    const CharsetPlan plan = plan_charset(c.name);
    EXPECT_EQ(plan.reading, Reading::kDecode) << c.name;
    auto text = decoded_text_for_matching(c.octets, plan);
    ASSERT_TRUE(text) << c.name;
    EXPECT_NE(text->find("SECRETMARK"), std::string::npos) << c.name << ": " << *text;
  }
  // ASCII-compatible families stay octets, whatever their spelling.
  for (const char* name : {"iso-8859-8-i", "x-mac-roman-ish", "gb2312-x", "tis-620"}) {
    EXPECT_NE(plan_charset(name).reading, Reading::kUndecodable) << name;
    auto text = decode("SECRETMARK", name);
    if (text) {
      EXPECT_NE(text->find("SECRETMARK"), std::string::npos) << name;
    }
  }
}

// Probe round 32: escapes glibc's ISO-2022 decoders refuse, which Python's take as
// designations or shifts, split the marker ("SECRET$)CMARK"); and an invalid UTF-16 unit
// misaligned everything after it.
TEST(Charset, InvalidSequencesAreSkippedAsReadersSkipThem) {
  for (const char* name : {"ISO-2022-JP-2", "iso2022_jp_2", "ISO-2022-JP-1", "iso2022_jp",
                           "ISO-2022-JP-2004", "ISO-2022-KR", "csISO2022KR", "iso2022_jp_ext"}) {
    // Each of these is a designation or shift without output to Python's decoder of at
    // least one of the names (the others show U+FFFD or the escape as text).
    for (const char* escape : {"\x1b$)C", "\x1bN", "\x1b(B", "\x1b(J", "\x1b.A", "\x0e"}) {
      const std::string octets = std::string("hello SECRET") + escape + "MARK\r\n";
      auto text = decode(octets, name);
      ASSERT_TRUE(text) << name;
      EXPECT_NE(text->find("SECRETMARK"), std::string::npos)
          << name << " " << (escape + 1) << ": " << *text;
    }
  }
  // An unpaired surrogate (one invalid unit) in UTF-16LE: the text after it stays aligned.
  const std::string le("\xff\xfe" "A\0" "\x00\xd8" "S\0E\0C\0R\0E\0T\0M\0A\0R\0K\0", 26);
  auto text = decode(le, "utf-16");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "A\xef\xbf\xbdSECRETMARK");
}

// Probe round 33: more labels readers decode (Java, ICU, Perl), UTF-7 after an error, wide
// encodings whose name fixes no byte order, and decoders the gateway cannot follow.
TEST(Charset, ReadersOtherLabelsAndUtf7ErrorsAreFollowed) {
  const std::string be = std::string("\0h\0i\0 \0S\0E\0C\0R\0E\0T\0M\0A\0R\0K", 26);
  std::string le32bom("\xff\xfe\0\0", 4);
  for (char c : std::string("hi SECRETMARK")) le32bom += std::string(1, c) + std::string(3, '\0');
  const std::string ebcdic("\x88\x89\x40\xe2\xc5\xc3\xd9\xc5\xe3\xd4\xc1\xd9\xd2");
  struct Case {
    const char* name;
    std::string octets;
  };
  const Case cases[] = {
      {"unicode", be},          {"ucs2", be},           {"csUnicode", be},
      {"iso-10646-1", be},      {"ucs-4", le32bom},     {"ISO-10646-UCS-4", le32bom},
      {"csUCS4", le32bom},      {"unicode-2-0-utf-7", "hi SECRET+AE0-ARK"},
      {"windows-65000", "hi SECRET+AE0-ARK"},
      {"jis", "hi SECRET\x1b(BMARK"},  {"JIS7", "hi SECRET\x0e\x0fMARK"},
      {"x-windows-50220", "hi SECRET\x1b(JMARK"}, {"cp50221", "hi SECRET\x1b(BMARK"},
      {"ibm-5054", "hi SECRET\x1b(BMARK"},       {"ibm-25546", "hi SECRET\x0fMARK"},
      {"7bit-jis", "hi SECRET\x1b(BMARK"},       {"JISAutoDetect", "hi SECRET\x1b(BMARK"},
      {"posix-bc", ebcdic},     {"csIBMThai", ebcdic},  {"ibm-931", ebcdic},
      {"ibm-5026", ebcdic},     {"ibm-9067", ebcdic},
      // UTF-7: an error ends the base64 run, as Python, ICU and Perl read it.
      {"utf-7", "hello +AE-SECRET+AE0-ARK x"}, {"utf-7", "hello ++ SECRET+AE0-ARK x"},
      {"utf-7", "hello +AE!+AFMARQBDAFIARQBUAE0AQQBSAEs- x"},
      {"utf-7", "hello +AE\x80SECRETMARK x"},
  };
  for (const auto& c : cases) {
    auto text = decode(c.octets, c.name);
    ASSERT_TRUE(text) << c.name;
    EXPECT_NE(text->find("SECRETMARK"), std::string::npos) << c.name << ": " << *text;
  }
  for (const char* name : {"SCSU", "BOCU-1", "csBOCU-1", "ibm-1214", "MIME-Header", "MIME-B",
                           "iso-ir-165"}) {
    EXPECT_EQ(plan_charset(name).reading, Reading::kUndecodable) << name;
  }
}

TEST(Charset, MessagesWithTextInOtherCharsetsAreDecoded) {
  const std::string utf16("\xff\xfeM\0A\0R\0K\0", 10);
  auto parsed = parse_mime(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      base64_encode(utf16) +
      "--b\r\nContent-Type: text/plain; charset=\"UTF-7\"\r\n\r\nhi +AE0-ARK2\r\n"
      "--b\r\nContent-Type: application/octet-stream; charset=utf-16\r\n\r\nXX\r\n"
      "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nplain\r\n--b--\r\n");
  ASSERT_TRUE(parsed) << parsed.error();
  // Text parts only (an octet-stream's charset means nothing to readers), and not the
  // ASCII-compatible one.
  EXPECT_EQ(text_in_other_charsets(parsed.value()), "MARK\r\nhi MARK2\r\n");
  parsed = parse_mime("Content-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(text_in_other_charsets(parsed.value()), "");
}

// A footer a DATA policy appends is UTF-8 (YAML); the octets it keeps are in the part's
// charset. Found missing in session 16 (F10): "grüße" in an iso-8859-1 part read
// "grÃ¼ÃŸe".
TEST(Charset, ThePolicysTextIsWrittenInThePartsCharset) {
  const std::string footer = "-- gr\xc3\xbc\xc3\x9f" "e\n";
  {  // Representable: converted, the original octets untouched.
    auto fit = fit_to_charset("Gr\xfc\xdf" "e\r\n", "Gr\xfc\xdf" "e\r\n" + footer, "ISO-8859-1");
    ASSERT_TRUE(fit);
    EXPECT_FALSE(fit->relabel_utf8);
    EXPECT_EQ(fit->body, "Gr\xfc\xdf" "e\r\n-- gr\xfc\xdf" "e\n");
  }
  {  // Inserted before and after the original (a header line and a footer).
    auto fit = fit_to_charset("x\xe9\r\n", "\xc3\xa9t\xc3\xa9\nx\xe9\r\n" + footer, "latin1");
    ASSERT_TRUE(fit);
    EXPECT_EQ(fit->body, "\xe9t\xe9\nx\xe9\r\n-- gr\xfc\xdf" "e\n");
  }
  {  // windows-1252 has the euro sign (0x80), iso-8859-1 has not: relabelled, all UTF-8.
    auto fit = fit_to_charset("caf\xe9\r\n", "caf\xe9\r\n\xe2\x82\xac\n", "windows-1252");
    ASSERT_TRUE(fit);
    EXPECT_EQ(fit->body, "caf\xe9\r\n\x80\n");
    fit = fit_to_charset("caf\xe9\r\n", "caf\xe9\r\n\xe2\x82\xac\n", "\"iso-8859-1\"");
    ASSERT_TRUE(fit);
    EXPECT_TRUE(fit->relabel_utf8);
    EXPECT_EQ(fit->body, "caf\xc3\xa9\r\n\xe2\x82\xac\n");
  }
  {  // US-ASCII has none of it: UTF-8, relabelled.
    auto fit = fit_to_charset("hello\r\n", "hello\r\n" + footer, "US-ASCII");
    ASSERT_TRUE(fit);
    EXPECT_TRUE(fit->relabel_utf8);
    EXPECT_EQ(fit->body, "hello\r\n" + footer);
  }
  {  // Octets invalid in the charset and a character it lacks: "?", nothing else changed.
    auto fit = fit_to_charset("caf\xe9\r\n", "caf\xe9\r\n\xc3\xbc\xf0\x9f\x98\x80!\n", "ascii");
    ASSERT_TRUE(fit);
    EXPECT_FALSE(fit->relabel_utf8);
    EXPECT_EQ(fit->body, "caf\xe9\r\n?" "?!\n");
  }
  {  // Part of the original replaced: the cut moves back to whole UTF-8 characters
     // ("\xc3" ends the kept prefix by chance and starts the inserted "ü").
    auto fit = fit_to_charset("a\xc3" "b", "a\xc3\xbc" "b", "iso-8859-1");
    ASSERT_TRUE(fit);
    EXPECT_EQ(fit->body, "a\xfc" "b");
  }
  // Nothing to do: UTF-8 or no charset, ASCII-only or non-UTF-8 inserted text, a charset
  // iconv does not know, one that is not ASCII-compatible.
  EXPECT_FALSE(fit_to_charset("a\r\n", "a\r\n" + footer, "utf-8"));
  EXPECT_FALSE(fit_to_charset("a\r\n", "a\r\n" + footer, "UTF8"));
  EXPECT_FALSE(fit_to_charset("a\r\n", "a\r\n" + footer, ""));
  EXPECT_FALSE(fit_to_charset("a\xe9\r\n", "a\xe9\r\n-- footer\n", "iso-8859-1"));
  EXPECT_FALSE(fit_to_charset("a\r\n", "a\r\n\xfc\n", "iso-8859-1"));
  EXPECT_FALSE(fit_to_charset("a\r\n", "a\r\n" + footer, "unknown-8bit"));
  EXPECT_FALSE(fit_to_charset("a\r\n", "a\r\n" + footer, "utf-16"));
}

}  // namespace
}  // namespace gw::controlplane::policy

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
  text = decode("hello SECRET\x1b(BMARK", "iso-2022-jp");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hello SECRETMARK");
  text = decode("\xd4\xc1\xd9\xd2", "cp037");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "MARK");
  // Invalid sequences are skipped, the rest still decoded.
  text = decode(std::string("\xff\xfeM\0\xd8", 5), "utf-16");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "M");
  // Plain ASCII supersets and unknown names: nothing to add.
  EXPECT_FALSE(decode("MARK", "iso-8859-1"));
  EXPECT_FALSE(decode("MARK", "x-unknown"));
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

}  // namespace
}  // namespace gw::controlplane::policy

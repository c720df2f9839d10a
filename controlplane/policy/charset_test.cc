#include "controlplane/policy/charset.h"

#include <gtest/gtest.h>

#include "controlplane/policy/base64.h"
#include "controlplane/policy/mime_message.h"

namespace gw::controlplane::policy {
namespace {

TEST(Charset, AsciiCompatibilityIsAskedOfIconv) {
  for (const char* name : {"", "us-ascii", "UTF-8", "utf8", "iso-8859-1", "ISO-8859-15",
                           "windows-1252", "koi8-r", "iso-2022-jp", "no-such-charset",
                           "utf-16//IGNORE"}) {
    EXPECT_TRUE(is_ascii_compatible_charset(name)) << name;
  }
  for (const char* name : {"utf-16", "UTF-16LE", "utf-16be", "utf-32", "utf-7", "UTF-7",
                           "ibm037", " utf-16 "}) {
    EXPECT_FALSE(is_ascii_compatible_charset(name)) << name;
  }
}

TEST(Charset, TextIsDecodedToUtf8ForMatching) {
  // "hello MARK" in UTF-16 with a BOM (Python's "utf-16" codec writes one), both byte
  // orders without one, UTF-7 with a letter in base64 ("+AE0-" is "M"), UTF-32.
  const std::string le("\xff\xfeh\0i\0 \0M\0A\0R\0K\0", 16);
  auto text = decoded_text_for_matching(le, "utf-16");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hi MARK");
  const std::string be_no_bom("\0h\0i\0 \0M\0A\0R\0K", 14);
  text = decoded_text_for_matching(be_no_bom, "UTF-16");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("hi MARK"), std::string::npos) << *text;
  const std::string le_no_bom("h\0i\0 \0M\0A\0R\0K\0", 14);
  text = decoded_text_for_matching(le_no_bom, "utf-16");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("hi MARK"), std::string::npos) << *text;
  text = decoded_text_for_matching("hi +AE0-ARK", "utf-7");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hi MARK");
  text = decoded_text_for_matching(std::string("\0\0\0M\0\0\0A", 8), "utf-32be");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "MA");
  // Invalid sequences are skipped, the rest still decoded.
  text = decoded_text_for_matching(std::string("\xff\xfeM\0\xd8", 5), "utf-16");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "M");
  // ASCII-compatible or unknown charsets: nothing to add.
  EXPECT_FALSE(decoded_text_for_matching("MARK", "iso-8859-1"));
  EXPECT_FALSE(decoded_text_for_matching("MARK", "x-unknown"));
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

// Tests of ${attr} template expansion.
#include "controlplane/policy/attribute_template.h"

#include <gtest/gtest.h>

namespace gw::controlplane::policy {
namespace {

const Attributes kAttributes = {
    {"smtp.helo.domain", "client.example"},
    {"smtp.mail.from", "alice@example.com"},
    {"x", "${smtp.helo.domain}"},
    {"authentication.subject.password", "s3cret"},
};

TEST(AttributeTemplate, ExpandsKnownAttributes) {
  EXPECT_EQ(expand_template("Hello ${smtp.helo.domain}", kAttributes), "Hello client.example");
  EXPECT_EQ(expand_template("${smtp.mail.from}/${smtp.helo.domain}", kAttributes),
            "alice@example.com/client.example");
  EXPECT_EQ(expand_template("no references", kAttributes), "no references");
  EXPECT_EQ(expand_template("", kAttributes), "");
}

TEST(AttributeTemplate, UnknownAttributeIsEmpty) {
  EXPECT_EQ(expand_template("a${nope}b", kAttributes), "ab");
}

TEST(AttributeTemplate, ExpandedTextIsNeverExpandedAgain) {
  EXPECT_EQ(expand_template("<${x}>", kAttributes), "<${smtp.helo.domain}>");
}

TEST(AttributeTemplate, DollarsThatAreNotReferencesStayAsTheyAre) {
  EXPECT_EQ(expand_template("$${smtp.helo.domain}", kAttributes), "$${smtp.helo.domain}");
  EXPECT_EQ(expand_template("cost $5", kAttributes), "cost $5");
  EXPECT_EQ(expand_template("end $", kAttributes), "end $");
  EXPECT_EQ(expand_template("${smtp.helo.domain", kAttributes), "${smtp.helo.domain");
  EXPECT_EQ(expand_template("${bad name}", kAttributes), "${bad name}");
  EXPECT_EQ(expand_template("${}", kAttributes), "${}");
  EXPECT_EQ(expand_template("$$$${x}", kAttributes), "$$$${x}");
  EXPECT_EQ(expand_template("$${x} ${smtp.mail.from}", kAttributes), "$${x} alice@example.com");
}

TEST(AttributeTemplate, PasswordNeverExpands) {
  EXPECT_EQ(expand_template("[${authentication.subject.password}]", kAttributes), "[]");
}

TEST(AttributeTemplate, References) {
  const auto t = AttributeTemplate::parse("Hello ${smtp.helo.domain} $${smtp.mail.from}");
  EXPECT_TRUE(t.references("smtp.helo.domain"));
  EXPECT_FALSE(t.references("smtp.mail.from"));
  EXPECT_EQ(t.source(), "Hello ${smtp.helo.domain} $${smtp.mail.from}");
}

TEST(Attributes, SingleLineAndRecipients) {
  EXPECT_EQ(to_single_line("a\r\n250 b\t\x7f"), "a??250 b??");
  EXPECT_EQ(to_single_line("abcdef", 3), "abc");
  EXPECT_TRUE(has_control_character(std::string("a\0b", 3)));
  EXPECT_FALSE(has_control_character("caf\xc3\xa9"));
  EXPECT_EQ(join_recipients({"a@x", "b@y"}), "a@x, b@y");
  // Probe round 41: local parts that are no dot-atom are quoted again, so a comma inside
  // one cannot pass for a separator.
  EXPECT_EQ(join_recipients({"x, evil@bad.example@example.org", "b@y"}),
            "\"x, evil@bad.example\"@example.org, b@y");
  EXPECT_EQ(join_recipients({"a b@x", "q\"uo\\te@x", ".dot@x", "a..b@x", "@x"}),
            "\"a b\"@x, \"q\\\"uo\\\\te\"@x, \".dot\"@x, \"a..b\"@x, \"\"@x");
  EXPECT_EQ(join_recipients({"o'neil+tag@x", "j\xc3\xbcrgen@x", "postmaster"}),
            "o'neil+tag@x, j\xc3\xbcrgen@x, postmaster");
  EXPECT_TRUE(is_read_only_attribute("smtp.rcpt.recipients"));
  EXPECT_TRUE(is_read_only_attribute("authentication.subject.password"));
  EXPECT_FALSE(is_read_only_attribute("smtp.helo.domain"));
}

}  // namespace
}  // namespace gw::controlplane::policy

#include "common/wildcard.h"

#include <gtest/gtest.h>

namespace gw::common {
namespace {

TEST(Wildcard, ReferenceExamples) {
  EXPECT_TRUE(wildcard_match("*", "anyone@example.com"));
  EXPECT_TRUE(wildcard_match("*", ""));  // the null sender <> is matched as ""
  EXPECT_TRUE(wildcard_match("*@gmail.com", "john@GMAIL.COM"));
  EXPECT_FALSE(wildcard_match("*@gmail.com", "john@gmail.com.evil.example"));
  EXPECT_TRUE(wildcard_match("S*@axway.*", "sam@axway.com"));
  EXPECT_TRUE(wildcard_match("s*@axway.*", "S@AXWAY.de"));
  EXPECT_FALSE(wildcard_match("s*@axway.*", "tom@axway.com"));
  EXPECT_TRUE(wildcard_match("d*@yahoo.*", "dave@yahoo.co.uk"));
}

TEST(Wildcard, WholeTextAndBacktracking) {
  EXPECT_FALSE(wildcard_match("abc", "abcd"));
  EXPECT_FALSE(wildcard_match("abc", "ab"));
  EXPECT_TRUE(wildcard_match("a*b*c", "aXbYbZc"));
  EXPECT_TRUE(wildcard_match("*a*a*a", "aaa"));
  EXPECT_FALSE(wildcard_match("*a*a*a", "aa"));
  EXPECT_TRUE(wildcard_match("**", "x"));
  EXPECT_FALSE(wildcard_match("", "x"));
  EXPECT_TRUE(wildcard_match("", ""));
}

TEST(Wildcard, Specificity) {
  auto star = wildcard_specificity("*");
  auto domain = wildcard_specificity("*@example.com");
  auto exact = wildcard_specificity("bob@example.com");
  auto two = wildcard_specificity("*@*example.com");
  EXPECT_TRUE(more_specific(domain, star));
  EXPECT_TRUE(more_specific(exact, domain));
  EXPECT_TRUE(more_specific(domain, two));  // same literals, fewer stars
  EXPECT_FALSE(more_specific(domain, domain));
}

TEST(Wildcard, SpecificityCountsCharactersNotOctets) {
  // "ö" is two octets but one literal character (DESIGN.md §5; probe round 12).
  EXPECT_EQ(wildcard_specificity("\xc3\xb6*@example.com").literals, 13u);
  EXPECT_EQ(wildcard_specificity("\xe2\x82\xac\xf0\x9f\x98\x80*").literals, 2u);
  EXPECT_EQ(wildcard_specificity("*ab@example.com").literals, 14u);
  EXPECT_TRUE(more_specific(wildcard_specificity("*ab@example.com"),
                            wildcard_specificity("\xc3\xb6*@example.com")));
  // A stray octet that starts no UTF-8 sequence is one character.
  EXPECT_EQ(wildcard_specificity("a\xff*").literals, 2u);
  EXPECT_EQ(wildcard_specificity("\xc3").literals, 1u);
}

}  // namespace
}  // namespace gw::common

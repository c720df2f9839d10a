// SASLprep (RFC 4013): the examples of §3 and the cases the repository depends on.
#include "controlplane/policy/saslprep.h"

#include <gtest/gtest.h>

namespace gw::controlplane::policy {
namespace {

std::string prep(std::string_view text, SaslprepUse use = SaslprepUse::kQuery) {
  auto out = saslprep(text, use);
  return out ? *out : "(refused)";
}

TEST(Saslprep, Rfc4013Examples) {
  EXPECT_EQ(prep("I\xc2\xad" "X"), "IX");       // SOFT HYPHEN mapped to nothing
  EXPECT_EQ(prep("user"), "user");              // no transformation
  EXPECT_EQ(prep("USER"), "USER");              // case preserved
  EXPECT_EQ(prep("\xc2\xaa"), "a");             // ª: NFKC
  EXPECT_EQ(prep("\xe2\x85\xa8"), "IX");        // Ⅸ: NFKC
  EXPECT_EQ(prep("\x07"), "(refused)");         // prohibited
  EXPECT_EQ(prep("\xd8\xa7" "1"), "(refused)");  // bidirectional check
}

TEST(Saslprep, OneSpellingPerName) {
  // NFD and NFC "jürgen" are one name; so are a no-break space and a space.
  EXPECT_EQ(prep("ju\xcc\x88rgen"), "j\xc3\xbcrgen");
  EXPECT_EQ(prep("j\xc3\xbcrgen"), "j\xc3\xbcrgen");
  EXPECT_EQ(prep("a\xc2\xa0" "b"), "a b");
  EXPECT_EQ(prep("x\xe2\x80\x8by"), "x y");  // ZERO WIDTH SPACE: a non-ASCII space (C.1.2)
  EXPECT_EQ(prep("\xef\xac\x80"), "ff");              // ﬀ ligature
  // ASCII printable text is unchanged: existing ASCII passwords keep their hashes.
  EXPECT_EQ(prep("s3cret !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            "s3cret !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
  for (const char* refused : {"a\tb", "a\x01" "b", "\x7f", "a\xc2\x85" "b", "\xee\x80\x80"}) {
    EXPECT_EQ(prep(refused), "(refused)") << refused;
  }
}

TEST(Saslprep, UnassignedCodePointsOnlyInQueries) {
  const std::string unassigned = "a\xf0\xaf\xa8\xa0";  // U+2FA20, unassigned in Unicode 3.2
  EXPECT_EQ(prep(unassigned, SaslprepUse::kStored), "(refused)");
  EXPECT_NE(prep(unassigned, SaslprepUse::kQuery), "(refused)");
}

}  // namespace
}  // namespace gw::controlplane::policy

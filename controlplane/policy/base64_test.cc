// Tests of the base64 codec, including field case BR-28.
#include "controlplane/policy/base64.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <random>

namespace gw::controlplane::policy {
namespace {

std::string sha256(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

TEST(Base64, KnownVectors) {  // RFC 4648 §10
  EXPECT_EQ(base64_encode("", 0), "");
  EXPECT_EQ(base64_encode("f", 0), "Zg==");
  EXPECT_EQ(base64_encode("fo", 0), "Zm8=");
  EXPECT_EQ(base64_encode("foo", 0), "Zm9v");
  EXPECT_EQ(base64_encode("foobar", 0), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zg"), "f");  // missing padding tolerated
}

TEST(Base64, EncodesIn76CharacterCrlfLines) {
  const std::string data = random_bytes(1000, 1);
  const std::string encoded = base64_encode(data);
  std::size_t pos = 0, lines = 0;
  while (pos < encoded.size()) {
    const auto eol = encoded.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos) << "every line ends in CRLF, the last one too";
    EXPECT_LE(eol - pos, 76u);
    EXPECT_EQ(encoded.find('\n', pos), eol + 1) << "no bare LF";
    pos = eol + 2;
    ++lines;
  }
  EXPECT_EQ(lines, (1336 + 75) / 76);
  EXPECT_EQ(base64_decode(encoded), data);
}

TEST(Base64, RoundTripsEverySize) {
  for (std::size_t n = 0; n < 200; ++n) {
    const std::string data = random_bytes(n, static_cast<unsigned>(n));
    EXPECT_EQ(base64_decode(base64_encode(data)), data) << n;
  }
}

// BR-28: padding in the middle, odd line splits, whitespace inside groups, lines > 76.
TEST(Base64, DecodesAcrossPaddingAndOddSplitsConsistently) {
  const std::string tail = base64_encode(std::string(225, 'Z'), 0);  // a 300-character line
  ASSERT_EQ(tail.size(), 300u);
  const std::string encoded =
      "QUJDRA==\r\nRUZHSA==\r\nSUpL TE1O\r\nT1BR\r\nUlNU\r\nVV\r\nZX WFla\r\n" + tail + "\r\n";
  std::size_t defects = 0;
  const std::string decoded = base64_decode(encoded, &defects);
  EXPECT_EQ(decoded, "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + std::string(225, 'Z'));
  EXPECT_EQ(defects, 2u) << "padding twice before the end";

  // Re-encoding round-trips the decoded bytes exactly (compared by SHA-256, as BR-28 asks).
  const std::string reencoded = base64_encode(decoded);
  EXPECT_EQ(sha256(base64_decode(reencoded)), sha256(decoded));
}

TEST(Base64, DefectsAreCountedNotFatal) {
  std::size_t defects = 0;
  EXPECT_EQ(base64_decode("Zm9v!YmFy", &defects), "foobar");
  EXPECT_EQ(defects, 1u);
  defects = 0;
  EXPECT_EQ(base64_decode("Zm9vY", &defects), "foo");  // dangling single character
  EXPECT_EQ(defects, 1u);
  defects = 0;
  EXPECT_EQ(base64_decode(" \t\r\nZm9v\r\n", &defects), "foo");
  EXPECT_EQ(defects, 0u);
}

TEST(Base64, PaddingInsideAGroupIsReportedAsMisaligned) {
  // Probe round 6: other decoders skip such an "=" and stay in the group.
  const std::string t = base64_encode("EICAR-MARK-7731 in the attachment\r\n");
  for (const std::string& text : {t.substr(0, 1) + "=" + t.substr(1), t.substr(0, 2) + "=" + t.substr(2),
                                 t.substr(0, 5) + "=" + t.substr(5), t.substr(0, 1) + "==" + t.substr(1)}) {
    bool misaligned = false;
    base64_decode(text, nullptr, &misaligned);
    EXPECT_TRUE(misaligned) << text;
  }
  // A character left over (alphabet count 4n+1), at the end or before padding (probe round
  // 23: the raw EICAR line labelled base64 is 69 alphabet characters).
  for (const std::string text : {"QUJDR", "QUJDR=", "QUJDR==", "QUJD\r\nR\r\n",
                                 "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*xxx"}) {
    bool misaligned = false;
    base64_decode(text, nullptr, &misaligned);
    EXPECT_TRUE(misaligned) << text;
  }
  // Proper padding followed by more data (BR-28's case) is decoded across, not misaligned.
  for (const std::string text : {"QUJDRA==RUZHSA==", "QUJDREU=RUZH", "QUJD====RUZH", "QUJDRA=="}) {
    bool misaligned = false;
    base64_decode(text, nullptr, &misaligned);
    EXPECT_FALSE(misaligned) << text;
  }
}

}  // namespace
}  // namespace gw::controlplane::policy

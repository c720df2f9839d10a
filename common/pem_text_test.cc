// pem_blocks (probe round 10: a certificate file with Latin-1 text before its PEM block, or
// a DER file, made gctl fail with "UNIMPLEMENTED").
#include "common/pem_text.h"

#include <gtest/gtest.h>

#include <string>

namespace gw::common {
namespace {

constexpr const char* kBlock =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmg\n-----END CERTIFICATE-----\n";

TEST(PemBlocks, TextAroundTheBlocksIsLeftOut) {
  std::string why;
  const std::string file =
      std::string("Subject: Caf\xe9 (Latin-1)\r\n") + kBlock + "trailer \xff\n" + kBlock;
  EXPECT_EQ(pem_blocks(file, why), std::string(kBlock) + kBlock);
  EXPECT_EQ(pem_blocks(kBlock, why), kBlock);
  // CRLF line ends become LF; the last line may lack its line end.
  EXPECT_EQ(pem_blocks("-----BEGIN K-----\r\nAAAA\r\n-----END K-----", why),
            "-----BEGIN K-----\nAAAA\n-----END K-----\n");
}

TEST(PemBlocks, NoCompleteAsciiBlockIsRefusedWithAReason) {
  std::string why;
  EXPECT_EQ(pem_blocks(std::string("\x30\x82\x01\xb3\x30\x82", 6), why), std::nullopt);  // DER
  EXPECT_NE(why.find("no PEM block"), std::string::npos) << why;
  EXPECT_EQ(pem_blocks("-----BEGIN CERTIFICATE-----\nMIIB\n", why), std::nullopt);
  EXPECT_NE(why.find("no -----END line"), std::string::npos) << why;
  EXPECT_EQ(pem_blocks("-----BEGIN CERTIFICATE-----\nMI\xc3\xa9\n-----END CERTIFICATE-----\n", why),
            std::nullopt);
  EXPECT_NE(why.find("outside printable ASCII"), std::string::npos) << why;
}

}  // namespace
}  // namespace gw::common

// Tests of address and CIDR parsing and prefix matching.
#include "controlplane/policy/cidr.h"

#include <gtest/gtest.h>

namespace gw::controlplane::policy {
namespace {

bool in(std::string_view cidr, std::string_view address) {
  auto c = Cidr::parse(cidr);
  EXPECT_TRUE(c) << cidr << ": " << (c ? "" : c.error());
  auto a = parse_ip_address(address);
  EXPECT_TRUE(a) << address;
  return c && a && c.value().contains(*a);
}

TEST(Cidr, ParsesAddressForms) {
  for (const char* text :
       {"192.0.2.1", "192.0.2.1:2525", "[2001:db8::1]:25", "2001:db8::1", "[2001:db8::1]",
        "fe80::1%eth0", "::1", "::ffff:192.0.2.1", "[::ffff:192.0.2.1]:25"}) {
    EXPECT_TRUE(parse_ip_address(text)) << text;
  }
  for (const char* text :
       {"", "300.1.1.1", "host:25", "192.0.2.1:", "192.0.2.1:x", "[2001:db8::1", "[2001:db8::1]x",
        "[192.0.2.1]", "01.2.3.4", "1.2.3", "2001:db8::1::2", "localhost"}) {
    EXPECT_FALSE(parse_ip_address(text)) << text;
  }
  auto mapped = parse_ip_address("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->v6);
  EXPECT_TRUE(parse_ip_address("[::1]:25")->v6);
}

TEST(Cidr, IPv4Prefixes) {
  EXPECT_TRUE(in("127.0.0.0/8", "127.0.0.1:40000"));
  EXPECT_FALSE(in("127.0.0.0/8", "128.0.0.1"));
  EXPECT_TRUE(in("192.0.2.0/24", "192.0.2.255"));
  EXPECT_FALSE(in("192.0.2.0/24", "192.0.3.0"));
  EXPECT_TRUE(in("10.16.0.0/12", "10.31.255.255"));
  EXPECT_FALSE(in("10.16.0.0/12", "10.32.0.0"));
  EXPECT_TRUE(in("0.0.0.0/0", "203.0.113.9"));
  EXPECT_TRUE(in("192.0.2.7", "192.0.2.7"));
  EXPECT_FALSE(in("192.0.2.7", "192.0.2.8"));
  EXPECT_TRUE(in("127.0.0.0/8", "::ffff:127.0.0.1"));  // dual-stack socket
  EXPECT_FALSE(in("127.0.0.0/8", "::1"));              // other family
}

TEST(Cidr, IPv6Prefixes) {
  EXPECT_TRUE(in("2001:db8::/32", "[2001:db8:1::5]:25"));
  EXPECT_FALSE(in("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(in("::1/128", "::1"));
  EXPECT_TRUE(in("fe80::/10", "febf::1"));
  EXPECT_FALSE(in("fe80::/10", "fec0::1"));
  EXPECT_TRUE(in("2001:db8::/127", "2001:db8::1"));
  EXPECT_FALSE(in("2001:db8::/127", "2001:db8::2"));
  EXPECT_FALSE(in("::/0", "192.0.2.1"));  // other family
  EXPECT_TRUE(in("::ffff:10.0.0.0/104", "10.1.2.3"));
}

TEST(Cidr, RefusesBadPrefixes) {
  EXPECT_NE(Cidr::parse("10.0.0.1/8").error().find("host bits"), std::string::npos);
  EXPECT_NE(Cidr::parse("10.0.0.0/33").error().find("prefix length"), std::string::npos);
  EXPECT_NE(Cidr::parse("2001:db8::/129").error().find("prefix length"), std::string::npos);
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/x"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/-1"));
  EXPECT_FALSE(Cidr::parse("example.com/8"));
  EXPECT_FALSE(Cidr::parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::parse("fe80::%eth0/64"));
  EXPECT_FALSE(Cidr::parse("::ffff:0:0/64"));
  EXPECT_TRUE(Cidr::parse("2001:db8::/32"));
}

}  // namespace
}  // namespace gw::controlplane::policy

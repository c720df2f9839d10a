// Tests of --listen parsing and the loopback rule behind "no plaintext beyond this host".
#include "controlplane/listen_address.h"

#include <gtest/gtest.h>

namespace gw::controlplane {
namespace {

TEST(ListenAddressTest, Parses) {
  auto v4 = parse_listen("127.0.0.1:7070");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7070);
  auto v6 = parse_listen("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad :
       {"", "7070", ":7070", "host:", "host:70000", "host:-1", "host:1x", "host:123456"}) {
    EXPECT_FALSE(parse_listen(bad)) << bad;
  }
}

TEST(ListenAddressTest, LoopbackHosts) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "LocalHost", "::1", "[::1]",
                           "::ffff:127.0.0.1", "[0:0:0:0:0:0:0:1]"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host :
       {"0.0.0.0", "::", "[::]", "10.0.0.1", "192.0.2.7", "128.0.0.1", "::ffff:10.0.0.1",
        "gctld.example.net", "localhost.example.net", "", "[::1"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

}  // namespace
}  // namespace gw::controlplane

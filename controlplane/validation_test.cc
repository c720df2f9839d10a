// Tests of field validation and defaults of services, interfaces and nodes.
#include "controlplane/validation.h"

#include <gtest/gtest.h>

#include "controlplane/service_defaults.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

v1::Service minimal(std::string name = "corp") {
  v1::Service s;
  s.set_name(std::move(name));
  s.set_host("smtp.example.net");
  fill_service_defaults(s);
  return s;
}

std::string refusal(const v1::Service& s) {
  auto r = validate_service(s);
  if (r) return "accepted";
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  return r.error().message;
}

TEST(DefaultsTest, EmptyServiceGetsEveryDefault) {
  v1::Service s;
  fill_service_defaults(s);
  EXPECT_EQ(s.port(), 25u);
  EXPECT_EQ(s.security(), v1::SECURITY_NONE);
  EXPECT_EQ(s.ciphers(), "DEFAULT");
  EXPECT_EQ(s.instance(), "default");
  const v1::Limits& l = s.limits();
  EXPECT_EQ(l.max_command_line(), 512u);
  EXPECT_EQ(l.max_auth_line(), 12288u);
  EXPECT_EQ(l.max_text_line(), 1000u);
  EXPECT_EQ(l.max_message_size(), 36700160u);
  EXPECT_EQ(l.max_recipients(), 100u);
  EXPECT_EQ(l.max_sessions(), 1000u);
  EXPECT_EQ(l.max_sessions_per_client(), 50u);
  EXPECT_EQ(l.idle_timeout_ms(), 60000u);
  EXPECT_EQ(l.session_timeout_ms(), 1800000u);
  EXPECT_EQ(l.data_timeout_ms(), 600000u);
  EXPECT_EQ(l.upstream_connect_timeout_ms(), 30000u);
  EXPECT_EQ(l.upstream_timeout_ms(), 300000u);
  EXPECT_EQ(l.upstream_data_timeout_ms(), 600000u);
  EXPECT_EQ(l.max_errors(), 20u);
  EXPECT_EQ(l.max_idle_commands(), 50u);
}

TEST(DefaultsTest, EveryLimitHasANonZeroDefault) {
  // A field added to Limits without a default would silently stay 0 ("unlimited"?).
  const v1::Limits defaults = default_limits();
  const auto* descriptor = v1::Limits::descriptor();
  const auto* reflection = v1::Limits::GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    EXPECT_TRUE(reflection->HasField(defaults, descriptor->field(i)))
        << descriptor->field(i)->name();
  }
}

TEST(DefaultsTest, ExplicitValuesAreKept) {
  v1::Service s;
  s.set_port(587);
  s.set_security(v1::SECURITY_SSL);
  s.set_ciphers("HIGH");
  s.set_instance("edge");
  s.mutable_limits()->set_max_recipients(3);
  fill_service_defaults(s);
  EXPECT_EQ(s.port(), 587u);
  EXPECT_EQ(s.security(), v1::SECURITY_SSL);
  EXPECT_EQ(s.ciphers(), "HIGH");
  EXPECT_EQ(s.instance(), "edge");
  EXPECT_EQ(s.limits().max_recipients(), 3u);
  EXPECT_EQ(s.limits().max_errors(), 20u);
}

TEST(DefaultsTest, InterfaceDefaults) {
  v1::Interface i;
  fill_interface_defaults(i);
  EXPECT_EQ(i.type(), v1::INTERFACE_TYPE_TCP);
  EXPECT_EQ(i.bind_address(), "127.0.0.1");
  EXPECT_EQ(i.port(), 0u) << "the port has no default";
}

TEST(ValidationTest, Names) {
  EXPECT_TRUE(is_valid_name("corp"));
  EXPECT_TRUE(is_valid_name("a.b_c-D9"));
  EXPECT_TRUE(is_valid_name(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_name(""));
  EXPECT_FALSE(is_valid_name(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_name("with space"));
  EXPECT_FALSE(is_valid_name("slash/"));
  EXPECT_FALSE(is_valid_name("caf\xc3\xa9"));
  EXPECT_FALSE(is_valid_name("new\nline"));
}

TEST(ValidationTest, ServiceAcceptsMinimal) { EXPECT_EQ(refusal(minimal()), "accepted"); }

TEST(ValidationTest, ServiceName) {
  EXPECT_EQ(refusal(minimal("bad name")),
            "service name \"bad name\" is invalid: use 1 to 64 characters from A-Z a-z 0-9 . _ -");
  EXPECT_NE(refusal(minimal("")), "accepted");
  // Control characters are escaped in the message, never echoed raw.
  EXPECT_EQ(refusal(minimal("x\r\ny")).find('\r'), std::string::npos);
}

TEST(ValidationTest, Host) {
  for (const char* good : {"smtp.example.net", "localhost", "127.0.0.1", "::1", "mx-1.example.",
                           "mail_relay.internal"}) {
    v1::Service s = minimal();
    s.set_host(good);
    EXPECT_EQ(refusal(s), "accepted") << good;
  }
  v1::Service s = minimal();
  s.set_host("");
  EXPECT_EQ(refusal(s), "host is required");
  for (const char* bad : {"two words", "a..b", ".lead", "x/y", "host:25", "h\r\nMAIL"}) {
    s.set_host(bad);
    EXPECT_NE(refusal(s).find("is neither an IP address nor a host name"), std::string::npos)
        << bad;
  }
  s.set_host(std::string(254, 'a'));
  EXPECT_NE(refusal(s), "accepted");
}

TEST(ValidationTest, PortAndSecurity) {
  v1::Service s = minimal();
  s.set_port(65535);
  EXPECT_EQ(refusal(s), "accepted");
  s.set_port(65536);
  EXPECT_EQ(refusal(s), "port 65536 is out of range 1..65535");
  s.set_port(25);
  s.set_security(static_cast<v1::Security>(9));
  EXPECT_EQ(refusal(s), "security 9 is not one of none, ssl, starttls");
}

TEST(ValidationTest, InstanceHostnameAndCredentials) {
  v1::Service s = minimal();
  s.set_instance("edge zone");
  EXPECT_NE(refusal(s).find("instance \"edge zone\" is invalid"), std::string::npos);

  s = minimal();
  s.set_hostname("gw.example.com\r\n250 fake");  // would inject into the SMTP banner
  EXPECT_NE(refusal(s).find("is not a valid host name"), std::string::npos);
  s.set_hostname("gw.example.com");
  EXPECT_EQ(refusal(s), "accepted");

  s.set_username("user\x01");
  EXPECT_NE(refusal(s).find("username"), std::string::npos);
  s.set_username("user@example.com");
  s.set_password("pass\nword");
  EXPECT_NE(refusal(s).find("password"), std::string::npos);
  s.set_password("p\xc3\xa4ss w\"rd'");  // UTF-8 and quotes are fine
  EXPECT_EQ(refusal(s), "accepted");

  s.set_ciphers("HIGH:\x7f");
  EXPECT_NE(refusal(s).find("ciphers"), std::string::npos);
  s.set_ciphers("HIGH:!aNULL:!MD5 @SECLEVEL=2");
  EXPECT_EQ(refusal(s), "accepted");

  s.add_trusted_cas("corp ca");
  EXPECT_NE(refusal(s).find("trusted CA name \"corp ca\""), std::string::npos);
  s.clear_trusted_cas();
  s.set_client_cert("../etc/passwd");
  EXPECT_NE(refusal(s).find("client certificate name"), std::string::npos);
}

std::string refusal(v1::Interface i) {
  fill_interface_defaults(i);
  auto r = validate_interface(i);
  if (r) return "accepted";
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  return r.error().message;
}

v1::Interface tcp(std::uint32_t port) {
  v1::Interface i;
  i.set_service("corp");
  i.set_port(port);
  return i;
}

TEST(ValidationTest, InterfacePortTypeAndService) {
  EXPECT_EQ(refusal(tcp(2525)), "accepted");
  EXPECT_EQ(refusal(tcp(0)), "interface port 0 is out of range 1..65535");
  EXPECT_EQ(refusal(tcp(65536)), "interface port 65536 is out of range 1..65535");
  v1::Interface i = tcp(2525);
  i.set_type(static_cast<v1::InterfaceType>(7));
  EXPECT_EQ(refusal(i), "interface type 7 is not one of tcp, ssl, starttls");
  i = tcp(2525);
  i.clear_service();
  EXPECT_EQ(refusal(i), "interface service is required");
}

TEST(ValidationTest, InterfaceTlsNeedsCertificate) {
  v1::Interface i = tcp(465);
  i.set_type(v1::INTERFACE_TYPE_SSL);
  EXPECT_EQ(refusal(i), "interface type ssl needs a server certificate (cert)");
  i.set_type(v1::INTERFACE_TYPE_STARTTLS);
  EXPECT_EQ(refusal(i), "interface type starttls needs a server certificate (cert)");
  i.set_cert("gw-cert");
  EXPECT_EQ(refusal(i), "accepted");
  i.set_cert("gw cert");
  EXPECT_NE(refusal(i).find("certificate name"), std::string::npos);
}

TEST(ValidationTest, BindAddressIsParsedAndCanonical) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (Case c :
       {Case{"127.0.0.1", "127.0.0.1"}, Case{"0.0.0.0", "0.0.0.0"}, Case{"::", "::"},
        Case{"[::1]", "::1"}, Case{"::0001", "::1"}, Case{"2001:DB8:0:0::1", "2001:db8::1"}}) {
    v1::Interface i = tcp(2525);
    i.set_bind_address(c.in);
    fill_interface_defaults(i);
    ASSERT_TRUE(validate_interface(i)) << c.in;
    EXPECT_EQ(i.bind_address(), c.out);
  }
  for (const char* bad :
       {"localhost", "256.0.0.1", "127.0.0", "1.2.3.4:25", "::1%lo", "[::1", " 127.0.0.1"}) {
    v1::Interface i = tcp(2525);
    i.set_bind_address(bad);
    EXPECT_NE(refusal(i).find("is not an IP address"), std::string::npos) << bad;
  }
}

TEST(ValidationTest, NodeIdentity) {
  EXPECT_TRUE(validate_node_identity("relay-1", "default"));
  EXPECT_TRUE(validate_node_identity("pod:relay-7f9c@node.example", "edge"));
  EXPECT_FALSE(validate_node_identity("", "default"));
  EXPECT_FALSE(validate_node_identity("relay 1", "default"));
  EXPECT_FALSE(validate_node_identity(std::string(129, 'n'), "default"));
  EXPECT_FALSE(validate_node_identity("relay-1", ""));
  EXPECT_EQ(validate_node_identity("relay-1", "").error().code, Code::kInvalidArgument);
  EXPECT_TRUE(validate_node_text("hostname", "relay.example.net"));
  EXPECT_FALSE(validate_node_text("hostname", "x\ny"));
  EXPECT_FALSE(validate_node_text("version", std::string(256, 'v')));
}

}  // namespace
}  // namespace gw::controlplane

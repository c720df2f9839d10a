// Tests of field validation and defaults of services, interfaces and nodes.
#include "controlplane/validation.h"

#include <gtest/gtest.h>

#include <map>

#include "controlplane/service_defaults.h"
#include "controlplane/test_pki.h"

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
  EXPECT_EQ(l.decision_timeout_ms(), 1000u);
  EXPECT_EQ(l.max_mime_parts(), 1000u);
  EXPECT_EQ(l.max_mime_depth(), 20u);
  EXPECT_EQ(l.max_mime_header_block(), 65536u);
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
  // RFC 1123 §2.1: no label starts or ends with "-"; the top label is never all digits
  // (a mistyped address). Probe round 15.
  for (const char* bad : {"two words", "a..b", ".lead", "x/y", "host:25", "h\r\nMAIL", "-",
                          "-bad.example", "bad-.example", "mx.-x.example", "999.1.1.1",
                          "1.2.3.4.5", "10.0.0"}) {
    s.set_host(bad);
    EXPECT_NE(refusal(s).find("is neither an IP address nor a host name"), std::string::npos)
        << bad;
  }
  s.set_host(std::string(254, 'a'));
  EXPECT_NE(refusal(s), "accepted");
  // Probe round 17: "[::1]" was stored, and the node could not resolve it (421 for all).
  s.set_host("[::1]");
  EXPECT_EQ(refusal(s), "host \"[::1]\": write an IPv6 address without brackets");
  for (const char* nowhere : {"0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "255.255.255.255",
                              "ff02::1"}) {
    s.set_host(nowhere);
    EXPECT_EQ(refusal(s), "host \"" + std::string(nowhere) + "\" is not the address of one mail server")
        << nowhere;
  }
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

TEST(ValidationTest, MaxMessageSizeFitsADataDecision) {
  v1::Service s = minimal();
  s.mutable_limits()->set_max_message_size(512ull * 1024 * 1024);
  EXPECT_EQ(refusal(s), "accepted");
  s.mutable_limits()->set_max_message_size(512ull * 1024 * 1024 + 1);
  EXPECT_EQ(refusal(s), "max_message_size must be at most 536870912 octets (512 MiB)");
}

// A node holds a command line whole in a 64 KiB buffer: a larger limit made over-long lines
// end the session without a reply (probe round 8, BR-12).
TEST(ValidationTest, CommandLineLimitsFitTheNodesInputBuffer) {
  v1::Service s = minimal();
  s.mutable_limits()->set_max_command_line(32768);
  s.mutable_limits()->set_max_auth_line(32768);
  EXPECT_EQ(refusal(s), "accepted");
  s.mutable_limits()->set_max_command_line(32769);
  EXPECT_EQ(refusal(s), "max_command_line must be at most 32768 octets (a node holds a command "
                        "line whole in its 64 KiB input buffer)");
  s.mutable_limits()->set_max_command_line(512);
  s.mutable_limits()->set_max_auth_line(100000);
  EXPECT_EQ(refusal(s), "max_auth_line must be at most 32768 octets (a node holds a command "
                        "line whole in its 64 KiB input buffer)");
}

// Probe round 17: max_command_line 1 was stored, and the relay answered EHLO and every
// other command "500 Line too long". A server must take 512-octet command lines and
// 1000-octet text lines (RFC 5321 §4.5.3.1.4, §4.5.3.1.6); 0 stands for the default.
TEST(ValidationTest, LineLimitsAreAtLeastWhatTheRfcRequires) {
  v1::Service s = minimal();
  s.mutable_limits()->set_max_command_line(512);
  s.mutable_limits()->set_max_auth_line(512);
  s.mutable_limits()->set_max_text_line(1000);
  EXPECT_EQ(refusal(s), "accepted");
  s.mutable_limits()->set_max_command_line(511);
  EXPECT_EQ(refusal(s), "max_command_line must be at least 512 octets (RFC 5321 §4.5.3.1)");
  s.mutable_limits()->set_max_command_line(0);
  s.mutable_limits()->set_max_auth_line(1);
  EXPECT_EQ(refusal(s), "max_auth_line must be at least 512 octets (RFC 5321 §4.5.3.1)");
  s.mutable_limits()->set_max_auth_line(0);
  s.mutable_limits()->set_max_text_line(999);
  EXPECT_EQ(refusal(s), "max_text_line must be at least 1000 octets (RFC 5321 §4.5.3.1)");
}

TEST(ValidationTest, MimeCapsStayWithinBounds) {
  v1::Service s = minimal();
  s.mutable_limits()->set_max_mime_parts(2);
  s.mutable_limits()->set_max_mime_depth(100);
  s.mutable_limits()->set_max_mime_header_block(1048576);
  EXPECT_EQ(refusal(s), "accepted");
  s.mutable_limits()->set_max_mime_parts(1);
  EXPECT_EQ(refusal(s), "max_mime_parts must be 2..100000");
  s.mutable_limits()->set_max_mime_parts(100001);
  EXPECT_EQ(refusal(s), "max_mime_parts must be 2..100000");
  s.mutable_limits()->set_max_mime_parts(0);  // the default
  s.mutable_limits()->set_max_mime_depth(101);
  EXPECT_EQ(refusal(s), "max_mime_depth must be 2..100");
  s.mutable_limits()->set_max_mime_depth(0);
  s.mutable_limits()->set_max_mime_header_block(1023);
  EXPECT_EQ(refusal(s), "max_mime_header_block must be 1024..1048576 octets");
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
  // Probe round 17: grelayd "listened" on a multicast address no client can reach.
  for (const char* group : {"224.0.0.1", "239.1.2.3", "255.255.255.255", "ff02::1"}) {
    i = tcp(2525);
    i.set_bind_address(group);
    EXPECT_EQ(refusal(i), "bind address \"" + std::string(group) +
                              "\" is a multicast or broadcast address: no TCP client can "
                              "connect to it")
        << group;
  }
  for (const char* fine : {"0.0.0.0", "::", "192.0.2.255", "223.255.255.255", "fe80::1"}) {
    i = tcp(2525);
    i.set_bind_address(fine);
    EXPECT_EQ(refusal(i), "accepted") << fine;
  }
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
        Case{"[::1]", "::1"}, Case{"::0001", "::1"}, Case{"2001:DB8:0:0::1", "2001:db8::1"},
        // IPv4-mapped is the IPv4 address, so the port overlap check sees both (probe 15).
        Case{"::ffff:127.0.0.1", "127.0.0.1"}, Case{"[::FFFF:7f00:1]", "127.0.0.1"}}) {
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

TEST(ValidationTest, SecureUpstreamNeedsATrustedCa) {
  v1::Service s = minimal();
  s.set_security(v1::SECURITY_STARTTLS);
  EXPECT_EQ(refusal(s),
            "security starttls needs at least one trusted CA (trusted_cas): a certificate name, "
            "or \"system\" for the operating system's CA bundle");
  s.set_security(v1::SECURITY_SSL);
  EXPECT_NE(refusal(s).find("security ssl needs at least one trusted CA"), std::string::npos);
  s.add_trusted_cas("system");
  EXPECT_EQ(refusal(s), "accepted");
  s.add_trusted_cas("corp-ca");
  EXPECT_EQ(refusal(s), "accepted");
  s.add_trusted_cas("corp-ca");
  EXPECT_EQ(refusal(s), "trusted CA \"corp-ca\" is listed twice");
}

TEST(ValidationTest, ServiceTlsSettings) {
  v1::Service s = minimal();
  EXPECT_EQ(s.tls_min_version(), "1.2") << "default filled";
  s.set_tls_min_version("1.3");
  EXPECT_EQ(refusal(s), "accepted");
  for (const char* bad : {"1.1", "1.0", "TLSv1.3", "1.4", " 1.2"}) {
    s.set_tls_min_version(bad);
    EXPECT_NE(refusal(s).find("tls_min_version"), std::string::npos) << bad;
  }
  s = minimal();
  s.set_ciphers("NO-SUCH-CIPHER");
  EXPECT_EQ(refusal(s),
            "ciphers \"NO-SUCH-CIPHER\" selects no cipher with encryption and server "
            "authentication (OpenSSL cipher list syntax, e.g. DEFAULT or HIGH:!aNULL; eNULL and "
            "aNULL suites are never used)");
  s.set_ciphers("ECDHE+AESGCM:!aNULL");
  EXPECT_EQ(refusal(s), "accepted");
  // Lists of suites without encryption or server authentication alone select nothing the
  // gateway uses (probe round 38); a list that also has others is taken, without them.
  for (const char* clear : {"eNULL:@SECLEVEL=0", "aNULL:@SECLEVEL=0", "NULL"}) {
    s.set_ciphers(clear);
    EXPECT_NE(refusal(s).find("selects no cipher with encryption"), std::string::npos) << clear;
  }
  s.set_ciphers("ALL:@SECLEVEL=0");
  EXPECT_EQ(refusal(s), "accepted");

  for (const char* good : {"mx.example.net", "127.0.0.1", "::1"}) {
    s.set_tls_server_name(good);
    EXPECT_EQ(refusal(s), "accepted") << good;
  }
  s.set_tls_server_name("mx.example.net\r\nX");
  EXPECT_NE(refusal(s).find("tls_server_name"), std::string::npos);
}

TEST(ValidationTest, CertificateNames) {
  EXPECT_TRUE(validate_certificate_name("gw-cert"));
  for (const char* reserved : {"system", "SYSTEM", "System"}) {
    auto r = validate_certificate_name(reserved);
    ASSERT_FALSE(r) << reserved;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find("is reserved"), std::string::npos);
  }
  EXPECT_FALSE(validate_certificate_name(""));
  EXPECT_FALSE(validate_certificate_name("a/b"));
}

TEST(ValidationTest, InterfaceTlsSettings) {
  v1::Interface i = tcp(465);
  i.set_type(v1::INTERFACE_TYPE_SSL);
  i.set_cert("gw-cert");
  fill_interface_defaults(i);
  EXPECT_EQ(i.ciphers(), "DEFAULT");
  EXPECT_EQ(i.tls_min_version(), "1.2");
  i.set_tls_min_version("1.0");
  EXPECT_EQ(refusal(i), "interface tls_min_version \"1.0\" is not one of 1.2, 1.3");
  i.set_tls_min_version("1.3");
  i.set_ciphers("NONE-AT-ALL");
  EXPECT_NE(refusal(i).find("interface ciphers \"NONE-AT-ALL\" selects no cipher"),
            std::string::npos);
  i.set_ciphers("HIGH");
  EXPECT_EQ(refusal(i), "accepted");
}

TEST(ValidationTest, SniCertificates) {
  v1::Interface i = tcp(465);
  i.set_type(v1::INTERFACE_TYPE_STARTTLS);
  i.set_cert("default-cert");
  auto add = [&i](const char* name, const char* cert) {
    v1::SniCertificate* sni = i.add_sni_certs();
    sni->set_server_name(name);
    sni->set_cert(cert);
  };
  add("MX.Example.ORG.", "org-cert");
  add("*.example.net", "net-cert");
  fill_interface_defaults(i);
  ASSERT_TRUE(validate_interface(i));
  EXPECT_EQ(i.sni_certs(0).server_name(), "mx.example.org") << "lower case, no final dot";
  EXPECT_EQ(i.sni_certs(1).server_name(), "*.example.net");

  for (const char* bad : {"*", "*.", "a.*.example.com", "*example.com", "127.0.0.1", "::1",
                          "two words", "", "x\ny"}) {
    v1::Interface j = i;
    j.mutable_sni_certs(0)->set_server_name(bad);
    EXPECT_NE(refusal(j).find("is invalid: use a host name or *.domain"), std::string::npos) << bad;
  }
  v1::Interface dup = i;
  dup.mutable_sni_certs(1)->set_server_name("mx.EXAMPLE.org");
  EXPECT_EQ(refusal(dup), "SNI server name \"mx.example.org\" is given twice in sni_certs");
  v1::Interface no_cert = i;
  no_cert.mutable_sni_certs(0)->clear_cert();
  EXPECT_EQ(refusal(no_cert), "SNI server name \"mx.example.org\" needs a certificate name");

  v1::Interface plain = tcp(2525);
  v1::SniCertificate* sni = plain.add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("org-cert");
  const std::string tls_only =
      "cert, sni_certs and client_ca need an ssl or starttls interface, not tcp";
  EXPECT_EQ(refusal(plain), tls_only);
  plain.clear_sni_certs();
  plain.set_client_ca("corp-ca");
  EXPECT_EQ(refusal(plain), tls_only);
  plain.clear_client_ca();
  plain.set_cert("gw-cert");  // a tcp interface never offers TLS: a cert there protects nothing
  EXPECT_EQ(refusal(plain), tls_only);
  v1::Interface tuned = tcp(2526);
  fill_interface_defaults(tuned);
  EXPECT_EQ(refusal(tuned), "accepted");  // the defaults are no settings
  tuned.set_ciphers("aECDSA");
  EXPECT_EQ(refusal(tuned), "ciphers and tls_min_version need an ssl or starttls interface, not tcp");
  tuned.set_ciphers("DEFAULT");
  tuned.set_tls_min_version("1.3");
  EXPECT_EQ(refusal(tuned), "ciphers and tls_min_version need an ssl or starttls interface, not tcp");
  plain.set_client_ca("corp-ca");
  plain.set_type(v1::INTERFACE_TYPE_SSL);
  plain.set_cert("gw-cert");
  EXPECT_EQ(refusal(plain), "accepted");
  plain.set_client_ca("corp ca");
  EXPECT_NE(refusal(plain).find("client CA name"), std::string::npos);
}

// A certificate store for the reference checks over `certs` (name -> certificate and key;
// an empty key_pem is a certificate stored without key).
CertificateLookup store(std::map<std::string, testing::TestCert, std::less<>> certs) {
  return
      [certs = std::move(certs)](std::string_view name) -> Result<std::optional<CertificateFacts>> {
        auto it = certs.find(name);
        if (it == certs.end()) return std::optional<CertificateFacts>();
        const testing::TestCert& c = it->second;
        return std::optional<CertificateFacts>(
            CertificateFacts{!c.key_pem.empty(), c.cert_pem, c.key_pem});
      };
}

// A certificate for localhost with its key (`spec` changes key type and usages).
testing::TestCert with_key(testing::CertSpec spec = {}) { return testing::make_cert(spec); }

// The same certificate stored without its key: a trust anchor.
testing::TestCert without_key(testing::CertSpec spec = {}) {
  testing::TestCert c = testing::make_cert(spec);
  c.key_pem.clear();
  return c;
}

std::string reference_refusal(const Result<void>& r) {
  if (r) return "accepted";
  return r.error().message;
}

TEST(ValidationTest, ServiceCertificateReferences) {
  const auto certs = store({{"corp-ca", without_key()}, {"client", with_key()},
                            {"keyless", without_key()}});
  v1::Service s = minimal();
  s.add_trusted_cas("system");
  s.add_trusted_cas("corp-ca");
  s.set_client_cert("client");
  EXPECT_EQ(reference_refusal(check_service_certificates(s, certs)), "accepted");

  s.add_trusted_cas("ghost-ca");
  EXPECT_EQ(reference_refusal(check_service_certificates(s, certs)),
            "trusted CA \"ghost-ca\" is not a stored certificate (add it with gctl cert add)");
  s.clear_trusted_cas();
  s.set_client_cert("keyless");
  EXPECT_EQ(reference_refusal(check_service_certificates(s, certs)),
            "client certificate \"keyless\" has no private key (add the certificate with its "
            "key: gctl cert add NAME --cert FILE --key FILE)");
  s.set_client_cert("ghost");
  EXPECT_NE(reference_refusal(check_service_certificates(s, certs)).find("is not a stored"),
            std::string::npos);

  // A storage failure ends the check with that failure.
  CertificateLookup broken = [](std::string_view) -> Result<std::optional<CertificateFacts>> {
    return fail(Code::kUnavailable, "database is busy");
  };
  auto r = check_service_certificates(s, broken);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
}

TEST(ValidationTest, InterfaceCertificateReferences) {
  const auto certs = store({{"gw", with_key()}, {"org", with_key()}, {"ca", without_key()}});
  v1::Interface i = tcp(465);
  i.set_type(v1::INTERFACE_TYPE_SSL);
  i.set_cert("gw");
  i.set_client_ca("ca");
  v1::SniCertificate* sni = i.add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("org");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted");

  v1::Interface j = i;
  j.set_cert("ca");
  EXPECT_NE(reference_refusal(check_interface_certificates(j, certs))
                .find("interface certificate \"ca\" has no private key"),
            std::string::npos);
  j = i;
  j.mutable_sni_certs(0)->set_cert("ca");
  EXPECT_NE(reference_refusal(check_interface_certificates(j, certs))
                .find("SNI certificate for \"mx.example.org\" \"ca\" has no private key"),
            std::string::npos);
  j = i;
  j.set_client_ca("nobody");
  EXPECT_NE(reference_refusal(check_interface_certificates(j, certs))
                .find("client CA \"nobody\" is not a stored certificate"),
            std::string::npos);
  j = i;
  j.set_client_ca("gw");  // a certificate with key may serve as a trust anchor too
  EXPECT_EQ(reference_refusal(check_interface_certificates(j, certs)), "accepted");
}

// A server certificate must allow TLS server authentication; a client certificate, client
// authentication (RFC 5280 §4.2.1.12): peers refuse others.
TEST(ValidationTest, CertificatePurposeFollowsItsUse) {
  testing::CertSpec client_only;
  client_only.extended_key_usage = "clientAuth";
  testing::CertSpec server_only;
  server_only.extended_key_usage = "serverAuth";
  testing::CertSpec both;
  both.extended_key_usage = "serverAuth,clientAuth";
  testing::CertSpec no_signing;  // RSA key transport only: no TLS 1.3, no (EC)DHE
  no_signing.key_type = "RSA-2048";
  no_signing.extended_key_usage = "serverAuth";
  no_signing.key_usage = "critical,keyEncipherment";
  testing::CertSpec signing = no_signing;
  signing.key_usage = "critical,digitalSignature,keyEncipherment";
  const auto certs = store({{"client-only", with_key(client_only)},
                            {"server-only", with_key(server_only)},
                            {"both", with_key(both)},
                            {"no-signing", with_key(no_signing)},
                            {"signing", with_key(signing)}});
  v1::Interface i = tcp(465);
  i.set_type(v1::INTERFACE_TYPE_SSL);
  for (const char* name : {"server-only", "both"}) {
    i.set_cert(name);
    EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted") << name;
  }
  i.set_cert("signing");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted");
  i.set_cert("no-signing");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)),
            "interface certificate \"no-signing\" does not allow TLS server authentication: its "
            "key usage lacks digitalSignature, which every TLS 1.3 handshake needs (RFC 5280 "
            "§4.2.1.3, RFC 8446 §4.4.2.2); peers refuse it");
  i.set_cert("client-only");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)).rfind(
                "interface certificate \"client-only\" does not allow TLS server authentication: "
                "its extended key usage lacks serverAuth",
                0),
            0u);
  i.set_cert("both");
  v1::SniCertificate* sni = i.add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("client-only");
  EXPECT_NE(reference_refusal(check_interface_certificates(i, certs))
                .find("SNI certificate for \"mx.example.org\" \"client-only\" does not allow TLS "
                      "server authentication"),
            std::string::npos);

  v1::Service s = minimal();
  for (const char* name : {"client-only", "both"}) {
    s.set_client_cert(name);
    EXPECT_EQ(reference_refusal(check_service_certificates(s, certs)), "accepted") << name;
  }
  s.set_client_cert("server-only");
  EXPECT_NE(reference_refusal(check_service_certificates(s, certs))
                .find("client certificate \"server-only\" does not allow TLS client "
                      "authentication: its extended key usage lacks clientAuth"),
            std::string::npos);
  // A client certificate grelayd's upstream TLS context cannot load (probe round 46).
  testing::CertSpec weak_client;
  weak_client.key_type = "RSA-1024";
  weak_client.extended_key_usage = "clientAuth";
  const auto weak = store({{"weak-client", with_key(weak_client)}});
  s.set_client_cert("weak-client");
  EXPECT_EQ(reference_refusal(check_service_certificates(s, weak)),
            "client certificate \"weak-client\" cannot be loaded by a TLS client: ee key too "
            "small (RSA keys need 2048 bits, signatures SHA-256, at OpenSSL's default security "
            "level 2)");
  s.set_ciphers("DEFAULT:@SECLEVEL=1");
  EXPECT_EQ(reference_refusal(check_service_certificates(s, weak)), "accepted");
}

// The interface's cipher list and versions must leave a handshake possible with its
// certificate: grelayd would otherwise open a listener every client fails on.
TEST(ValidationTest, InterfaceCiphersMustFitTheCertificateKey) {
  testing::CertSpec rsa;
  rsa.key_type = "RSA-2048";
  testing::CertSpec weak;
  weak.key_type = "RSA-1024";
  const auto certs = store({{"ec", with_key()}, {"rsa", with_key(rsa)},
                            {"weak", with_key(weak)}});
  v1::Interface i = tcp(465);
  i.set_type(v1::INTERFACE_TYPE_STARTTLS);
  fill_interface_defaults(i);
  for (const char* name : {"ec", "rsa"}) {
    i.set_cert(name);
    EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted") << name;
  }

  // ECDSA-only suites on an RSA key: TLS 1.2 clients would get "no shared cipher".
  i.set_cert("rsa");
  i.set_ciphers("aECDSA");
  const std::string refused = reference_refusal(check_interface_certificates(i, certs));
  EXPECT_EQ(refused.rfind("interface certificate \"rsa\" cannot serve TLS 1.2 with ciphers "
                          "\"aECDSA\": no shared cipher",
                          0),
            0u)
      << refused;
  EXPECT_NE(refused.find("set tls_min_version 1.3"), std::string::npos);
  i.set_cert("ec");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted");
  // The same list is fine where TLS 1.2 is not offered (the list governs TLS 1.2 only).
  i.set_cert("rsa");
  i.set_tls_min_version("1.3");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted");
  // PSK suites need a PSK the server does not have.
  i.set_tls_min_version("1.2");
  i.set_ciphers("PSK");
  EXPECT_NE(reference_refusal(check_interface_certificates(i, certs)).find("cannot serve TLS 1.2"),
            std::string::npos);

  // A 1024-bit RSA key is below OpenSSL's default security level: grelayd cannot load it.
  i.set_ciphers("DEFAULT");
  i.set_cert("weak");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)),
            "interface certificate \"weak\" cannot be loaded by a TLS server: ee key too small "
            "(OpenSSL's default security level 2 refuses RSA and DSA keys under 2048 bits and "
            "SHA-1 signatures)");
  // A list that raises the level is named as the cause.
  i.set_cert("rsa");
  i.set_ciphers("DEFAULT:@SECLEVEL=3");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)),
            "interface certificate \"rsa\" cannot be loaded by a TLS server: ee key too small "
            "(below the security level the cipher list sets)");
  i.set_cert("weak");
  // ... unless the list lowers the level, as grelayd then does too.
  i.set_ciphers("DEFAULT:@SECLEVEL=1");
  EXPECT_EQ(reference_refusal(check_interface_certificates(i, certs)), "accepted");
  // An SNI certificate is held to the same.
  i.set_ciphers("DEFAULT");
  i.set_cert("ec");
  v1::SniCertificate* sni = i.add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("weak");
  EXPECT_NE(reference_refusal(check_interface_certificates(i, certs))
                .find("SNI certificate for \"mx.example.org\" \"weak\" cannot be loaded"),
            std::string::npos);
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

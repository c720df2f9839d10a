// Tests of InterfaceRepository: CRUD, address conflicts (exact and wildcard), cascade.
#include "storage/interface_repository.h"

#include <gtest/gtest.h>

#include "storage/service_repository.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

class InterfaceRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"corp", "other"}) {
      v1::Service s;
      s.set_name(name);
      s.set_host("smtp.example.net");
      s.set_port(25);
      s.set_ciphers("DEFAULT");
      s.set_tls_min_version("1.2");
      s.set_instance(std::string(name) == "corp" ? "default" : "edge");
      ASSERT_TRUE(services_.create(s, 1));
    }
  }

  static v1::Interface iface(std::string service, std::string address, std::uint32_t port) {
    v1::Interface i;
    i.set_service(std::move(service));
    i.set_type(v1::INTERFACE_TYPE_TCP);
    i.set_bind_address(std::move(address));
    i.set_port(port);
    i.set_ciphers("DEFAULT");
    i.set_tls_min_version("1.2");
    return i;
  }

  TestTempDir dir_;
  Database db_ = Database::open(dir_.file("gw.db"));
  SecretBox secrets_ = SecretBox::open_key_file(dir_.file("gw.db.key"));
  ServiceRepository services_{db_, secrets_};
  InterfaceRepository repo_{db_};
};

TEST_F(InterfaceRepositoryTest, CreateGetListRemove) {
  v1::Interface in = iface("corp", "127.0.0.1", 2525);
  in.set_type(v1::INTERFACE_TYPE_STARTTLS);
  in.set_cert("gw-cert");
  in.set_id(999);  // ignored: ids are assigned
  auto created = repo_.create(in, 1);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created.value().id(), 0);
  EXPECT_NE(created.value().id(), 999);
  EXPECT_EQ(created.value().service(), "corp");
  EXPECT_EQ(created.value().type(), v1::INTERFACE_TYPE_STARTTLS);
  EXPECT_EQ(created.value().cert(), "gw-cert");

  auto got = repo_.get(created.value().id());
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value().bind_address(), "127.0.0.1");
  EXPECT_EQ(got.value().port(), 2525u);

  ASSERT_TRUE(repo_.create(iface("other", "127.0.0.1", 2526), 1));
  EXPECT_EQ(repo_.list("").value().size(), 2u);
  EXPECT_EQ(repo_.list("corp").value().size(), 1u);
  EXPECT_EQ(repo_.list("nobody").value().size(), 0u);
  EXPECT_EQ(repo_.list_by_instance("edge").value().size(), 1u);
  EXPECT_EQ(repo_.list_by_instance("edge").value()[0].service(), "other");

  ASSERT_TRUE(repo_.remove(created.value().id()));
  EXPECT_EQ(repo_.get(created.value().id()).error().code, Errc::kNotFound);
  EXPECT_EQ(repo_.remove(created.value().id()).error().code, Errc::kNotFound);
}

TEST_F(InterfaceRepositoryTest, TlsFieldsAndSniCertificatesRoundTrip) {
  v1::Interface in = iface("corp", "127.0.0.1", 2465);
  in.set_type(v1::INTERFACE_TYPE_SSL);
  in.set_cert("default-cert");
  in.set_client_ca("client-ca");
  in.set_ciphers("HIGH:!aNULL");
  in.set_tls_min_version("1.3");
  for (const auto& [host, cert] :
       {std::pair{"mx.example.org", "org-cert"}, std::pair{"*.example.net", "net-cert"}}) {
    v1::SniCertificate* sni = in.add_sni_certs();
    sni->set_server_name(host);
    sni->set_cert(cert);
  }
  auto created = repo_.create(in, 1);
  ASSERT_TRUE(created) << created.error().message;
  in.set_id(created.value().id());
  EXPECT_EQ(created.value().SerializeAsString(), in.SerializeAsString())
      << created.value().DebugString();
  auto listed = repo_.list_by_instance("default");
  ASSERT_EQ(listed.value().size(), 1u);
  ASSERT_EQ(listed.value()[0].sni_certs_size(), 2);
  EXPECT_EQ(listed.value()[0].sni_certs(0).server_name(), "mx.example.org");
  EXPECT_EQ(listed.value()[0].sni_certs(1).cert(), "net-cert");

  ASSERT_TRUE(repo_.remove(created.value().id()));
  auto stmt = db_.prepare("SELECT count(*) FROM interface_sni_certs");
  ASSERT_TRUE(stmt.value().step().value());
  EXPECT_EQ(stmt.value().column_int64(0), 0) << "SNI rows go with their interface";
}

TEST_F(InterfaceRepositoryTest, DuplicateSniServerNameIsRefusedAndNothingIsKept) {
  v1::Interface in = iface("corp", "127.0.0.1", 2465);
  for (int i = 0; i < 2; ++i) {
    v1::SniCertificate* sni = in.add_sni_certs();
    sni->set_server_name("mx.example.org");
    sni->set_cert("c" + std::to_string(i));
  }
  auto created = repo_.create(in, 1);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(created.error().message, "server name \"mx.example.org\" is given twice in sni_certs");
  EXPECT_TRUE(repo_.list("").value().empty()) << "the interface row is rolled back too";
}

TEST_F(InterfaceRepositoryTest, UnknownServiceIsNotFound) {
  auto created = repo_.create(iface("ghost", "127.0.0.1", 2525), 1);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, Errc::kNotFound);
  EXPECT_EQ(created.error().message, "service \"ghost\" not found");
}

TEST_F(InterfaceRepositoryTest, SameAddressAndPortIsAlreadyExists) {
  auto first = repo_.create(iface("corp", "127.0.0.1", 2525), 1);
  ASSERT_TRUE(first);
  auto second = repo_.create(iface("other", "127.0.0.1", 2525), 1);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(second.error().message, "127.0.0.1:2525 overlaps interface " +
                                        std::to_string(first.value().id()) +
                                        " (127.0.0.1:2525) of service \"corp\"");
  // Other address or other port: fine.
  EXPECT_TRUE(repo_.create(iface("other", "127.0.0.2", 2525), 1));
  EXPECT_TRUE(repo_.create(iface("other", "127.0.0.1", 2526), 1));
}

TEST_F(InterfaceRepositoryTest, WildcardOverlapsEveryAddressOnItsPort) {
  ASSERT_TRUE(repo_.create(iface("corp", "127.0.0.1", 2525), 1));
  for (const char* wildcard : {"0.0.0.0", "::"}) {
    auto clash = repo_.create(iface("other", wildcard, 2525), 1);
    ASSERT_FALSE(clash) << wildcard;
    EXPECT_EQ(clash.error().code, Errc::kAlreadyExists);
  }
  ASSERT_TRUE(repo_.create(iface("corp", "0.0.0.0", 2600), 1));
  for (const char* specific : {"127.0.0.1", "192.0.2.1", "::1", "::"}) {
    auto clash = repo_.create(iface("other", specific, 2600), 1);
    ASSERT_FALSE(clash) << specific;
    EXPECT_EQ(clash.error().code, Errc::kAlreadyExists);
    EXPECT_NE(clash.error().message.find("0.0.0.0:2600"), std::string::npos);
  }
  auto v6 = repo_.create(iface("other", "::1", 2700), 1);
  ASSERT_TRUE(v6);
  auto v6_clash = repo_.create(iface("corp", "::1", 2700), 1);
  ASSERT_FALSE(v6_clash);
  EXPECT_NE(v6_clash.error().message.find("[::1]:2700"), std::string::npos);
}

TEST_F(InterfaceRepositoryTest, DeletingServiceCascadesToInterfaces) {
  ASSERT_TRUE(repo_.create(iface("corp", "127.0.0.1", 2525), 1));
  ASSERT_TRUE(repo_.create(iface("corp", "127.0.0.1", 2526), 1));
  ASSERT_TRUE(repo_.create(iface("other", "127.0.0.1", 2527), 1));
  ASSERT_TRUE(services_.remove("corp"));
  auto left = repo_.list("");
  ASSERT_EQ(left.value().size(), 1u);
  EXPECT_EQ(left.value()[0].service(), "other");
  // The freed address can be used again.
  EXPECT_TRUE(repo_.create(iface("other", "127.0.0.1", 2525), 1));
}

TEST_F(InterfaceRepositoryTest, IdsOfDeletedInterfacesAreNotReused) {
  auto a = repo_.create(iface("corp", "127.0.0.1", 2525), 1);
  ASSERT_TRUE(repo_.remove(a.value().id()));
  auto b = repo_.create(iface("corp", "127.0.0.1", 2525), 1);
  ASSERT_TRUE(b);
  EXPECT_GT(b.value().id(), a.value().id());
}

TEST(FormatEndpointTest, BracketsIpv6) {
  EXPECT_EQ(format_endpoint("127.0.0.1", 25), "127.0.0.1:25");
  EXPECT_EQ(format_endpoint("::1", 25), "[::1]:25");
}

}  // namespace
}  // namespace gw::storage

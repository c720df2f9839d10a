// Tests of CertificateRepository: round trip, sealed keys, errors and reference lookups.
#include "storage/certificate_repository.h"

#include <gtest/gtest.h>

#include "storage/interface_repository.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

// Storage does not parse PEM: any text will do here (controlplane tests use real ones).
constexpr const char* kCertPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
constexpr const char* kKeyPem =
    "-----BEGIN " "PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n";

v1::Certificate certificate(std::string name, bool with_key) {
  v1::Certificate c;
  c.set_name(std::move(name));
  c.set_cert_pem(kCertPem);
  if (with_key) c.set_key_pem(kKeyPem);
  c.set_subject("ignored");  // derived fields are not stored
  return c;
}

class CertificateRepositoryTest : public ::testing::Test {
 protected:
  TestTempDir dir_;
  Database db_ = Database::open(dir_.file("gw.db"));
  SecretBox secrets_ = SecretBox::open_key_file(dir_.file("gw.db.key"));
  CertificateRepository repo_{db_, secrets_};
  ServiceRepository services_{db_, secrets_};
  InterfaceRepository interfaces_{db_};
};

TEST_F(CertificateRepositoryTest, CreateGetListRemove) {
  auto created = repo_.create(certificate("gw-cert", true), 1234);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created.value().name(), "gw-cert");
  EXPECT_EQ(created.value().cert_pem(), kCertPem);
  EXPECT_TRUE(created.value().has_key());
  EXPECT_EQ(created.value().key_pem(), "") << "create answers without the key";
  EXPECT_EQ(created.value().subject(), "");
  EXPECT_EQ(created.value().created_at_ms(), 1234);

  ASSERT_TRUE(repo_.create(certificate("a-ca", false), 1));
  auto listed = repo_.list(Secrets::kOmit);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed.value().size(), 2u);
  EXPECT_EQ(listed.value()[0].name(), "a-ca");
  EXPECT_FALSE(listed.value()[0].has_key());
  EXPECT_EQ(listed.value()[1].key_pem(), "");
  EXPECT_EQ(repo_.list(Secrets::kInclude).value()[1].key_pem(), kKeyPem);

  EXPECT_EQ(repo_.get("gw-cert", Secrets::kInclude).value().key_pem(), kKeyPem);
  EXPECT_EQ(repo_.get("gw-cert", Secrets::kOmit).value().key_pem(), "");
  ASSERT_TRUE(repo_.remove("gw-cert"));
  EXPECT_EQ(repo_.get("gw-cert", Secrets::kOmit).error().code, Errc::kNotFound);
  auto again = repo_.remove("gw-cert");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kNotFound);
  EXPECT_EQ(again.error().message, "certificate \"gw-cert\" not found");
}

TEST_F(CertificateRepositoryTest, KeyIsStoredSealed) {
  ASSERT_TRUE(repo_.create(certificate("gw-cert", true), 1));
  auto stmt = db_.prepare("SELECT key_pem_sealed FROM certificates WHERE name = 'gw-cert'");
  ASSERT_TRUE(stmt.value().step().value());
  const std::string stored = stmt.value().column_blob(0);
  EXPECT_EQ(stored.find("secret-key-material"), std::string::npos);
  EXPECT_EQ(secrets_.open(stored).value(), kKeyPem);

  ASSERT_TRUE(repo_.create(certificate("ca", false), 1));
  auto none = db_.prepare("SELECT key_pem_sealed IS NULL FROM certificates WHERE name = 'ca'");
  ASSERT_TRUE(none.value().step().value());
  EXPECT_TRUE(none.value().column_bool(0));
}

TEST_F(CertificateRepositoryTest, UndecryptableKeyIsLeftOut) {
  ASSERT_TRUE(repo_.create(certificate("gw-cert", true), 1));
  SecretBox other = SecretBox::open_key_file(dir_.file("other.key"));
  CertificateRepository with_other_key(db_, other);
  auto got = with_other_key.get("gw-cert", Secrets::kInclude);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got.value().has_key());
  EXPECT_EQ(got.value().key_pem(), "");
}

TEST_F(CertificateRepositoryTest, DuplicateNameIsAlreadyExists) {
  ASSERT_TRUE(repo_.create(certificate("gw-cert", false), 1));
  auto dup = repo_.create(certificate("gw-cert", true), 2);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "certificate \"gw-cert\" already exists");
  EXPECT_FALSE(repo_.get("gw-cert", Secrets::kOmit).value().has_key()) << "first one kept";
}

TEST_F(CertificateRepositoryTest, ReferencesNameEveryServiceAndInterfaceField) {
  v1::Service corp;
  corp.set_name("corp");
  corp.set_host("smtp.example.net");
  corp.set_port(25);
  corp.set_ciphers("DEFAULT");
  corp.set_tls_min_version("1.2");
  corp.set_instance("edge");
  corp.add_trusted_cas("x");
  corp.add_trusted_cas("x");  // twice: one reference
  corp.set_client_cert("x");
  ASSERT_TRUE(services_.create(corp, 1));
  v1::Service other = corp;
  other.set_name("other");
  other.set_instance("default");
  other.clear_trusted_cas();
  other.set_client_cert("y");
  ASSERT_TRUE(services_.create(other, 1));

  v1::Interface iface;
  iface.set_service("other");
  iface.set_type(v1::INTERFACE_TYPE_STARTTLS);
  iface.set_bind_address("127.0.0.1");
  iface.set_port(2525);
  iface.set_cert("x");
  iface.set_client_ca("x");
  iface.set_ciphers("DEFAULT");
  iface.set_tls_min_version("1.2");
  v1::SniCertificate* sni = iface.add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("x");
  auto created = interfaces_.create(iface, 1);
  ASSERT_TRUE(created) << created.error().message;
  const std::int64_t id = created.value().id();

  auto refs = repo_.references("x");
  ASSERT_TRUE(refs) << refs.error().message;
  const std::vector<CertificateReference> expected = {
      {"corp", "edge", 0, "client_cert"},    {"corp", "edge", 0, "trusted_cas"},
      {"other", "default", id, "cert"},      {"other", "default", id, "client_ca"},
      {"other", "default", id, "sni_certs"},
  };
  EXPECT_EQ(refs.value(), expected);
  EXPECT_EQ(repo_.references("y").value(),
            (std::vector<CertificateReference>{{"other", "default", 0, "client_cert"}}));
  EXPECT_TRUE(repo_.references("nobody").value().empty());
  EXPECT_TRUE(repo_.references("").value().empty()) << "unset fields are no references";
}

}  // namespace
}  // namespace gw::storage

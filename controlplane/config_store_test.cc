// Tests of ConfigStore: defaults stored, errors, snapshot versions and publication.
#include "controlplane/config_store.h"

#include <google/protobuf/util/field_mask_util.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "controlplane/test_pki.h"
#include "storage/test_temp_dir.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

class RecordingWatcher : public SnapshotWatcher {
 public:
  void on_snapshot(std::shared_ptr<const v1::ConfigSnapshot> snapshot) override {
    received.push_back(std::move(snapshot));
  }
  void on_hub_closed() override { closed = true; }
  std::vector<std::shared_ptr<const v1::ConfigSnapshot>> received;
  bool closed = false;
};

v1::Service service(std::string name, std::string instance = "") {
  v1::Service s;
  s.set_name(std::move(name));
  s.set_host("smtp.example.net");
  s.set_instance(std::move(instance));
  return s;
}

v1::Interface iface(std::string service, std::uint32_t port, std::string address = "") {
  v1::Interface i;
  i.set_service(std::move(service));
  i.set_port(port);
  i.set_bind_address(std::move(address));
  return i;
}

google::protobuf::FieldMask mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask m;
  for (const char* p : paths) m.add_paths(p);
  return m;
}

class ConfigStoreTest : public ::testing::Test {
 protected:
  ConfigStoreTest() { open(); }

  void open() {
    store_.reset();
    hub_.emplace();
    db_.emplace(storage::Database::open(dir_.file("gw.db")));
    store_.emplace(*db_, secrets_, *hub_);
  }

  std::uint64_t version() { return hub_->current()->version; }
  // The password the default instance's only service carries in its snapshot.
  std::string snapshot_password() {
    auto snap = hub_->current()->snapshot("default");
    if (snap == nullptr || snap->services_size() != 1) {
      ADD_FAILURE() << "default instance should have exactly one service";
      return "<none>";
    }
    return snap->services(0).password();
  }
  std::shared_ptr<const v1::ConfigSnapshot> snapshot(const char* instance) {
    return hub_->current()->snapshot(instance);
  }

  storage::TestTempDir dir_;
  storage::SecretBox secrets_ = storage::SecretBox::open_key_file(dir_.file("gw.db.key"));
  std::optional<SnapshotHub> hub_;
  std::optional<storage::Database> db_;
  std::optional<ConfigStore> store_;
};

TEST_F(ConfigStoreTest, CreateStoresDefaultsAndHidesPassword) {
  v1::Service in = service("corp");
  in.set_username("relay");
  in.set_password("secret");
  in.set_has_password(false);        // output only: ignored
  in.add_interfaces()->set_port(1);  // output only: ignored
  in.set_created_at_ms(5);           // output only: ignored
  auto created = store_->create_service(in);
  ASSERT_TRUE(created) << created.error().message;
  const v1::Service& s = created.value();
  EXPECT_EQ(s.port(), 25u);
  EXPECT_EQ(s.security(), v1::SECURITY_NONE);
  EXPECT_EQ(s.ciphers(), "DEFAULT");
  EXPECT_EQ(s.instance(), "default");
  EXPECT_EQ(s.limits().max_message_size(), 36700160u);
  EXPECT_EQ(s.limits().max_idle_commands(), 50u);
  EXPECT_TRUE(s.has_password());
  EXPECT_EQ(s.password(), "");
  EXPECT_EQ(s.interfaces_size(), 0);
  EXPECT_GT(s.created_at_ms(), 5);

  auto got = store_->get_service("corp");
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value().password(), "");
  EXPECT_EQ(got.value().limits().max_recipients(), 100u);
  EXPECT_EQ(store_->list_services("").value().at(0).password(), "");
}

// gctld's own ports are never an interface's: a node on the same host would take them
// while gctld restarts, and gctld could not come back (probe round 45).
TEST_F(ConfigStoreTest, InterfacesNeverTakeGctldsOwnEndpoints) {
  ASSERT_TRUE(store_->create_service(service("corp")));
  store_->reserve_endpoint("127.0.0.1:7070", "gctld's own gRPC listener (--listen)");
  store_->reserve_endpoint("[::]:9100", "gctld's metrics listener (--metrics-listen)");
  store_->reserve_endpoint("localhost:7071", "a test endpoint");
  store_->reserve_endpoint("127.0.0.1:0", "a port picked at start: nothing to reserve");
  const std::uint64_t before = version();
  auto refused = store_->create_interface(iface("corp", 7070));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kAlreadyExists);
  EXPECT_EQ(refused.error().message,
            "127.0.0.1:7070 overlaps gctld's own gRPC listener (--listen): a relay node on "
            "this host would take its port");
  for (const char* bind : {"0.0.0.0", "::", "::ffff:127.0.0.1"}) {
    EXPECT_FALSE(store_->create_interface(iface("corp", 7070, bind))) << bind;
  }
  for (const char* bind : {"127.0.0.1", "192.0.2.1", "::1"}) {
    EXPECT_FALSE(store_->create_interface(iface("corp", 9100, bind))) << bind;
  }
  EXPECT_FALSE(store_->create_interface(iface("corp", 7071, "::1")));
  EXPECT_EQ(version(), before);
  // Other addresses on the same port, and other ports, are free.
  EXPECT_TRUE(store_->create_interface(iface("corp", 7070, "127.0.0.2")));
  EXPECT_TRUE(store_->create_interface(iface("corp", 7071, "127.0.0.3")));
  EXPECT_TRUE(store_->create_interface(iface("corp", 2525)));
}

TEST_F(ConfigStoreTest, RefusedChangesDoNotBumpTheVersion) {
  ASSERT_TRUE(store_->create_service(service("corp")));
  ASSERT_TRUE(store_->create_interface(iface("corp", 2525)));
  const std::uint64_t before = version();

  auto dup = store_->create_service(service("corp"));
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "service \"corp\" already exists");
  EXPECT_EQ(store_->create_service(service("bad name")).error().code, Code::kInvalidArgument);
  EXPECT_EQ(store_->create_interface(iface("ghost", 2526)).error().code, Code::kNotFound);
  EXPECT_EQ(store_->create_interface(iface("corp", 2525)).error().code, Code::kAlreadyExists);
  EXPECT_EQ(store_->create_interface(iface("corp", 2525, "0.0.0.0")).error().code,
            Code::kAlreadyExists);
  // The IPv4-mapped spelling is the same listener (probe round 15).
  EXPECT_EQ(store_->create_interface(iface("corp", 2525, "::ffff:127.0.0.1")).error().code,
            Code::kAlreadyExists);
  EXPECT_EQ(store_->create_interface(iface("corp", 0)).error().code, Code::kInvalidArgument);
  EXPECT_EQ(store_->delete_interface(12345).error().code, Code::kNotFound);
  EXPECT_EQ(store_->delete_service("ghost").error().code, Code::kNotFound);
  EXPECT_EQ(store_->get_service("ghost").error().code, Code::kNotFound);
  EXPECT_EQ(store_->list_interfaces("ghost").error().code, Code::kNotFound);
  v1::Service patch = service("ghost");
  EXPECT_EQ(store_->update_service(patch, mask({"port"})).error().code, Code::kNotFound);
  patch.set_name("corp");
  patch.set_port(70000);
  EXPECT_EQ(store_->update_service(patch, mask({"port"})).error().code, Code::kInvalidArgument);

  EXPECT_EQ(version(), before);
  EXPECT_EQ(store_->get_service("corp").value().port(), 25u);
}

TEST_F(ConfigStoreTest, EachChangeBumpsVersionAndRebuildsOnlyItsInstances) {
  EXPECT_EQ(version(), 0u);
  v1::Service corp = service("corp");
  corp.set_username("relay");
  corp.set_password("pw");
  ASSERT_TRUE(store_->create_service(corp));
  EXPECT_EQ(version(), 1u);
  auto def = snapshot("default");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->version(), 1u);
  EXPECT_EQ(def->instance(), "default");
  ASSERT_EQ(def->services_size(), 1);
  EXPECT_EQ(def->services(0).password(), "pw") << "snapshots carry the secret for nodes";

  ASSERT_TRUE(store_->create_service(service("edge-svc", "edge")));
  EXPECT_EQ(version(), 2u);
  EXPECT_EQ(snapshot("default"), def) << "untouched instance keeps its snapshot object";
  EXPECT_EQ(snapshot("edge")->version(), 2u);
  EXPECT_TRUE(hub_->current()->has_service("edge-svc"));

  auto created = store_->create_interface(iface("corp", 2525));
  ASSERT_TRUE(created);
  EXPECT_EQ(version(), 3u);
  auto with_iface = snapshot("default");
  EXPECT_EQ(with_iface->version(), 3u);
  ASSERT_EQ(with_iface->services_size(), 1);
  ASSERT_EQ(with_iface->services(0).interfaces_size(), 1);
  EXPECT_EQ(with_iface->services(0).interfaces(0).id(), created.value().id());
  EXPECT_EQ(with_iface->services(0).interfaces(0).bind_address(), "127.0.0.1");
  EXPECT_EQ(def->services(0).interfaces_size(), 0) << "published snapshots are immutable";

  // Moving a service to another instance concerns both.
  v1::Service patch = service("corp");
  patch.set_instance("edge");
  auto moved = store_->update_service(patch, mask({"instance"}));
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(moved.value().interfaces_size(), 1);
  EXPECT_EQ(version(), 4u);
  EXPECT_EQ(snapshot("default")->version(), 4u);
  EXPECT_EQ(snapshot("default")->services_size(), 0);
  EXPECT_EQ(snapshot("edge")->version(), 4u);
  EXPECT_EQ(snapshot("edge")->services_size(), 2);
}

TEST_F(ConfigStoreTest, WatchersHearOnlyTheirInstance) {
  auto def = std::make_shared<RecordingWatcher>();
  auto edge = std::make_shared<RecordingWatcher>();
  auto initial = hub_->subscribe("default", def);
  EXPECT_EQ(initial->version(), 0u);
  EXPECT_EQ(initial->services_size(), 0);
  hub_->subscribe("edge", edge);

  ASSERT_TRUE(store_->create_service(service("corp")));
  ASSERT_TRUE(store_->create_service(service("e", "edge")));
  ASSERT_TRUE(store_->create_interface(iface("corp", 2525)));
  ASSERT_EQ(def->received.size(), 2u);
  EXPECT_EQ(def->received[0]->version(), 1u);
  EXPECT_EQ(def->received[1]->version(), 3u);
  ASSERT_EQ(edge->received.size(), 1u);
  EXPECT_EQ(edge->received[0]->version(), 2u);

  ASSERT_TRUE(store_->delete_service("corp"));
  ASSERT_EQ(def->received.size(), 3u);
  EXPECT_EQ(def->received[2]->version(), 4u);
  EXPECT_EQ(def->received[2]->services_size(), 0) << "service and interfaces gone";
  EXPECT_TRUE(store_->list_interfaces("").value().empty());
  EXPECT_FALSE(hub_->current()->has_service("corp"));
}

TEST_F(ConfigStoreTest, UpstreamLoginIsAUserNameAndAPassword) {
  // Probe round 40: a username alone was stored, and the gateway then passed clients' AUTH
  // through instead of logging in itself.
  v1::Service half = service("half");
  half.set_username("relay");
  auto refused = store_->create_service(half);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("needs its password"), std::string::npos);
  half.clear_username();
  half.set_password("pw");
  refused = store_->create_service(half);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("needs its username"), std::string::npos);
  half.set_username("relay");
  EXPECT_TRUE(store_->create_service(half));
}

TEST_F(ConfigStoreTest, UpdateAppliesMaskAndPassword) {
  v1::Service corp = service("corp");
  corp.set_username("relay");
  corp.set_password("old");
  ASSERT_TRUE(store_->create_service(corp));

  v1::Service patch;
  patch.set_name("corp");
  patch.mutable_limits()->set_max_recipients(5);
  patch.set_host("ignored.example");
  auto updated = store_->update_service(patch, mask({"limits.max_recipients"}));
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated.value().limits().max_recipients(), 5u);
  EXPECT_EQ(updated.value().host(), "smtp.example.net");
  EXPECT_TRUE(updated.value().has_password());
  EXPECT_EQ(updated.value().password(), "");
  EXPECT_EQ(snapshot_password(), "old");

  patch.set_password("new");
  ASSERT_TRUE(store_->update_service(patch, mask({"password"})));
  EXPECT_EQ(snapshot_password(), "new");

  patch.clear_password();
  // The login is a pair (probe round 40): clearing the password alone is refused.
  auto refused = store_->update_service(patch, mask({"password"}));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("needs its password"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(snapshot_password(), "new");
  auto cleared = store_->update_service(patch, mask({"password", "username"}));
  ASSERT_TRUE(cleared) << cleared.error().message;
  EXPECT_FALSE(cleared.value().has_password());
  EXPECT_EQ(snapshot_password(), "");

  EXPECT_EQ(store_->update_service(patch, mask({"name"})).error().code, Code::kInvalidArgument);
  EXPECT_EQ(store_->update_service(patch, mask({})).error().code, Code::kInvalidArgument);
}

TEST_F(ConfigStoreTest, VersionSurvivesRestart) {
  v1::Service corp = service("corp");
  corp.set_username("relay");
  corp.set_password("pw");
  ASSERT_TRUE(store_->create_service(corp));
  ASSERT_TRUE(store_->create_interface(iface("corp", 2525)));
  ASSERT_TRUE(store_->create_service(service("e", "edge")));
  EXPECT_EQ(version(), 3u);

  open();
  EXPECT_EQ(version(), 3u);
  auto def = snapshot("default");
  ASSERT_NE(def, nullptr);
  EXPECT_GE(def->version(), 2u) << "never below what was sent before the restart";
  ASSERT_EQ(def->services_size(), 1);
  EXPECT_EQ(def->services(0).password(), "pw");
  EXPECT_EQ(def->services(0).interfaces_size(), 1);
  EXPECT_TRUE(hub_->current()->has_service("e"));

  ASSERT_TRUE(store_->delete_service("e"));
  EXPECT_EQ(version(), 4u);
}

// ---- certificates ----------------------------------------------------------------------

v1::Certificate cert_message(const std::string& name, const testing::TestCert& pki, bool with_key) {
  v1::Certificate c;
  c.set_name(name);
  c.set_cert_pem(pki.cert_pem);
  if (with_key) c.set_key_pem(pki.key_pem);
  return c;
}

class ConfigStoreCertificateTest : public ConfigStoreTest {
 protected:
  static std::string key_body(const std::string& key_pem) { return testing::secret_part(key_pem); }

  testing::TestCert ca_ = testing::make_ca("Corp CA");
  testing::TestCert gw_ = testing::make_cert(testing::CertSpec{}, &ca_);
  testing::TestCert org_ = testing::make_cert(
      testing::CertSpec{"mx.example.org", {"DNS:mx.example.org"}, false, -60, 3600, "EC", "", ""}, &ca_);
};

TEST_F(ConfigStoreCertificateTest, CreateGetListDeleteWithoutEverReturningTheKey) {
  const std::uint64_t before = version();
  auto created = store_->create_certificate(cert_message("gw-cert", gw_, true));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(version(), before + 1) << "a certificate change bumps the version";
  const v1::Certificate& c = created.value();
  EXPECT_EQ(c.name(), "gw-cert");
  EXPECT_TRUE(c.has_key());
  EXPECT_EQ(c.key_pem(), "");
  EXPECT_EQ(c.cert_pem(), gw_.cert_pem);
  EXPECT_EQ(c.subject(), "CN=localhost,O=gw test");
  EXPECT_EQ(c.issuer(), "CN=Corp CA,O=gw test");
  EXPECT_EQ(std::vector<std::string>(c.subject_alt_names().begin(), c.subject_alt_names().end()),
            (std::vector<std::string>{"DNS:localhost", "IP:127.0.0.1"}));
  EXPECT_GT(c.not_after_ms(), c.not_before_ms());
  EXPECT_EQ(c.fingerprint_sha256().size(), 95u);
  EXPECT_GT(c.created_at_ms(), 0);

  ASSERT_TRUE(store_->create_certificate(cert_message("corp-ca", ca_, false)));
  auto got = store_->get_certificate("gw-cert");
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value().key_pem(), "");
  EXPECT_EQ(got.value().fingerprint_sha256(), c.fingerprint_sha256());
  auto listed = store_->list_certificates();
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed.value().size(), 2u);
  EXPECT_EQ(listed.value()[0].name(), "corp-ca");
  EXPECT_FALSE(listed.value()[0].has_key());
  EXPECT_EQ(listed.value()[1].subject(), "CN=localhost,O=gw test");
  for (const auto& l : listed.value()) EXPECT_EQ(l.key_pem(), "");

  // The key is sealed at rest, never stored in the clear.
  auto row = db_->prepare("SELECT key_pem_sealed FROM certificates WHERE name = 'gw-cert'");
  ASSERT_TRUE(row.value().step().value());
  EXPECT_EQ(row.value().column_blob(0).find(key_body(gw_.key_pem)), std::string::npos);

  const std::uint64_t before_delete = version();
  ASSERT_TRUE(store_->delete_certificate("gw-cert"));
  EXPECT_EQ(version(), before_delete + 1);
  EXPECT_EQ(store_->get_certificate("gw-cert").error().code, Code::kNotFound);
  EXPECT_EQ(store_->delete_certificate("gw-cert").error().code, Code::kNotFound);
  EXPECT_EQ(store_->delete_certificate("").error().code, Code::kInvalidArgument);
}

TEST_F(ConfigStoreCertificateTest, RefusalsDoNotBumpTheVersion) {
  ASSERT_TRUE(store_->create_certificate(cert_message("gw-cert", gw_, true)));
  const std::uint64_t before = version();
  auto dup = store_->create_certificate(cert_message("gw-cert", org_, true));
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
  EXPECT_EQ(dup.error().message, "certificate \"gw-cert\" already exists");
  EXPECT_EQ(store_->create_certificate(cert_message("system", ca_, false)).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(store_->create_certificate(cert_message("bad name", ca_, false)).error().code,
            Code::kInvalidArgument);
  v1::Certificate mismatch = cert_message("mismatch", gw_, false);
  mismatch.set_key_pem(org_.key_pem);
  auto refused = store_->create_certificate(mismatch);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("does not match"), std::string::npos);
  v1::Certificate garbage = cert_message("garbage", gw_, false);
  garbage.set_cert_pem("not a certificate");
  EXPECT_EQ(store_->create_certificate(garbage).error().code, Code::kInvalidArgument);
  v1::Certificate key_in_chain = cert_message("leaky", gw_, false);
  key_in_chain.set_cert_pem(gw_.cert_pem + gw_.key_pem);
  EXPECT_EQ(store_->create_certificate(key_in_chain).error().code, Code::kInvalidArgument);
  EXPECT_EQ(version(), before);
  EXPECT_EQ(store_->list_certificates().value().size(), 1u);
}

TEST_F(ConfigStoreCertificateTest, ServicesAndInterfacesMayNameOnlyStoredCertificates) {
  v1::Service corp = service("corp");
  corp.set_security(v1::SECURITY_STARTTLS);
  corp.add_trusted_cas("corp-ca");
  auto refused = store_->create_service(corp);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_EQ(refused.error().message,
            "trusted CA \"corp-ca\" is not a stored certificate (add it with gctl cert add)");
  ASSERT_TRUE(store_->create_certificate(cert_message("corp-ca", ca_, false)));
  ASSERT_TRUE(store_->create_service(corp));

  v1::Service patch = service("corp");
  patch.set_client_cert("corp-ca");
  auto keyless = store_->update_service(patch, mask({"client_cert"}));
  ASSERT_FALSE(keyless);
  EXPECT_NE(keyless.error().message.find("has no private key"), std::string::npos);
  ASSERT_TRUE(store_->create_certificate(cert_message("client", gw_, true)));
  patch.set_client_cert("client");
  ASSERT_TRUE(store_->update_service(patch, mask({"client_cert"})));

  v1::Interface tls = iface("corp", 2465);
  tls.set_type(v1::INTERFACE_TYPE_SSL);
  tls.set_cert("gw-cert");
  EXPECT_EQ(store_->create_interface(tls).error().code, Code::kInvalidArgument);
  tls.set_cert("client");
  v1::SniCertificate* sni = tls.add_sni_certs();
  sni->set_server_name("MX.example.org");
  sni->set_cert("org-cert");
  EXPECT_NE(store_->create_interface(tls).error().message.find("org-cert"), std::string::npos);
  ASSERT_TRUE(store_->create_certificate(cert_message("org-cert", org_, true)));
  auto created = store_->create_interface(tls);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_EQ(created.value().sni_certs_size(), 1);
  EXPECT_EQ(created.value().sni_certs(0).server_name(), "mx.example.org");
  EXPECT_EQ(created.value().ciphers(), "DEFAULT");
  EXPECT_EQ(created.value().tls_min_version(), "1.2");
}

// A service that requires TLS answers 530 to MAIL until STARTTLS; a tcp interface offers
// no STARTTLS, so such a pair could relay nothing (RFC 3207 §4; probe round 34 found gctl
// accepting it). Refused in each order it can come about, and in apply once its interfaces
// are in place.
TEST_F(ConfigStoreCertificateTest, ServicesThatRequireTlsOfferItOnEveryInterface) {
  ASSERT_TRUE(store_->create_certificate(cert_message("gw-cert", gw_, true)));
  v1::Service corp = service("corp");
  corp.set_require_tls(true);
  ASSERT_TRUE(store_->create_service(corp));
  const auto before = version();
  auto refused = store_->create_interface(iface("corp", 2525));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("requires TLS"), std::string::npos)
      << refused.error().message;
  // Not by an id that goes back with the refusal (probe round 40).
  EXPECT_NE(refused.error().message.find("but the new interface (127.0.0.1:2525)"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(version(), before);
  v1::Interface starttls = iface("corp", 2587);
  starttls.set_type(v1::INTERFACE_TYPE_STARTTLS);
  starttls.set_cert("gw-cert");
  ASSERT_TRUE(store_->create_interface(starttls));
  v1::Interface ssl = iface("corp", 2465);
  ssl.set_type(v1::INTERFACE_TYPE_SSL);
  ssl.set_cert("gw-cert");
  ASSERT_TRUE(store_->create_interface(ssl));

  ASSERT_TRUE(store_->create_service(service("plain")));
  ASSERT_TRUE(store_->create_interface(iface("plain", 2526)));
  v1::Service patch;
  patch.set_name("plain");
  patch.set_require_tls(true);
  const auto before_update = version();
  auto update = store_->update_service(patch, mask({"require_tls"}));
  ASSERT_FALSE(update);
  EXPECT_NE(update.error().message.find("2526"), std::string::npos) << update.error().message;
  EXPECT_EQ(version(), before_update);
  EXPECT_FALSE(store_->get_service("plain").value().require_tls());

  // apply: a file that declares the pair is refused whole; one that moves the service to
  // a starttls interface while it turns require_tls on is taken.
  v1::ConfigurationDocument doc;
  doc.set_file_name("tls.yaml");
  v1::Service* declared = doc.add_services();
  *declared = service("plain");
  declared->set_require_tls(true);
  declared->set_source_line(7);
  declared->set_declares_interfaces(true);
  *declared->add_interfaces() = iface("plain", 2526);
  auto applied = store_->apply(doc, false);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("tls.yaml:7"), std::string::npos)
      << applied.error().message;
  EXPECT_FALSE(store_->get_service("plain").value().require_tls());
  declared->clear_interfaces();
  v1::Interface moved = iface("plain", 2588);
  moved.set_type(v1::INTERFACE_TYPE_STARTTLS);
  moved.set_cert("gw-cert");
  *declared->add_interfaces() = moved;
  auto taken = store_->apply(doc, false);
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_TRUE(store_->get_service("plain").value().require_tls());
  auto interfaces = store_->list_interfaces("plain");
  ASSERT_TRUE(interfaces);
  ASSERT_EQ(interfaces.value().size(), 1u);
  EXPECT_EQ(interfaces.value()[0].port(), 2588);
}

TEST_F(ConfigStoreCertificateTest, DeletingACertificateInUseNamesTheReferrers) {
  ASSERT_TRUE(store_->create_certificate(cert_message("corp-ca", ca_, false)));
  ASSERT_TRUE(store_->create_certificate(cert_message("gw-cert", gw_, true)));
  v1::Service corp = service("corp");
  corp.set_security(v1::SECURITY_SSL);
  corp.add_trusted_cas("corp-ca");
  ASSERT_TRUE(store_->create_service(corp));
  v1::Interface tls = iface("corp", 2465);
  tls.set_type(v1::INTERFACE_TYPE_STARTTLS);
  tls.set_cert("gw-cert");
  tls.set_client_ca("corp-ca");
  auto created = store_->create_interface(tls);
  ASSERT_TRUE(created);
  const std::string id = std::to_string(created.value().id());

  const std::uint64_t before = version();
  auto in_use = store_->delete_certificate("corp-ca");
  ASSERT_FALSE(in_use);
  EXPECT_EQ(in_use.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(in_use.error().message,
            "certificate \"corp-ca\" is still used by service \"corp\" (trusted_cas), interface " +
                id + " of service \"corp\" (client_ca): change or delete those first");
  EXPECT_EQ(store_->delete_certificate("gw-cert").error().code, Code::kFailedPrecondition);
  EXPECT_EQ(version(), before);
  EXPECT_TRUE(store_->get_certificate("corp-ca"));

  ASSERT_TRUE(store_->delete_interface(created.value().id()));
  EXPECT_TRUE(store_->delete_certificate("gw-cert"));
  EXPECT_EQ(store_->delete_certificate("corp-ca").error().code, Code::kFailedPrecondition);
  ASSERT_TRUE(store_->delete_service("corp"));
  EXPECT_TRUE(store_->delete_certificate("corp-ca"));
}

TEST_F(ConfigStoreCertificateTest, SnapshotCarriesNamedCertificatesKeysOnlyWhereTheyAreUsed) {
  // "corp-ca" has a key but is used only as a trust anchor: its key stays home.
  ASSERT_TRUE(store_->create_certificate(cert_message("corp-ca", ca_, true)));
  ASSERT_TRUE(store_->create_certificate(cert_message("client", gw_, true)));
  ASSERT_TRUE(store_->create_certificate(cert_message("gw-cert", gw_, true)));
  ASSERT_TRUE(store_->create_certificate(cert_message("org-cert", org_, true)));
  ASSERT_TRUE(store_->create_certificate(cert_message("unused", org_, true)));
  v1::Service corp = service("corp");
  corp.set_security(v1::SECURITY_STARTTLS);
  corp.add_trusted_cas("system");
  corp.add_trusted_cas("corp-ca");
  corp.set_client_cert("client");
  corp.set_tls_min_version("1.3");
  corp.set_no_verify_hostname(true);
  corp.set_tls_server_name("mx.example.net");
  corp.set_username("relay");
  corp.set_password("upstream-secret");
  corp.set_require_tls(true);
  corp.set_allow_plaintext_auth(true);
  ASSERT_TRUE(store_->create_service(corp));
  ASSERT_TRUE(store_->create_service(service("edge-svc", "edge")));
  v1::Interface tls = iface("corp", 2587);
  tls.set_type(v1::INTERFACE_TYPE_STARTTLS);
  tls.set_cert("gw-cert");
  tls.set_client_ca("corp-ca");
  tls.set_ciphers("HIGH:!aNULL");
  tls.set_tls_min_version("1.3");
  v1::SniCertificate* sni = tls.add_sni_certs();
  sni->set_server_name("mx.example.org");
  sni->set_cert("org-cert");
  ASSERT_TRUE(store_->create_interface(tls));

  auto snap = snapshot("default");
  ASSERT_NE(snap, nullptr);
  ASSERT_EQ(snap->services_size(), 1);
  const v1::Service& s = snap->services(0);
  EXPECT_EQ(s.tls_min_version(), "1.3");
  EXPECT_TRUE(s.no_verify_hostname());
  EXPECT_EQ(s.tls_server_name(), "mx.example.net");
  EXPECT_EQ(s.client_cert(), "client");
  EXPECT_EQ(s.password(), "upstream-secret");
  EXPECT_TRUE(s.require_tls());
  EXPECT_TRUE(s.allow_plaintext_auth());
  ASSERT_EQ(s.interfaces_size(), 1);
  EXPECT_EQ(s.interfaces(0).client_ca(), "corp-ca");
  EXPECT_EQ(s.interfaces(0).ciphers(), "HIGH:!aNULL");
  EXPECT_EQ(s.interfaces(0).tls_min_version(), "1.3");
  ASSERT_EQ(s.interfaces(0).sni_certs_size(), 1);

  std::map<std::string, const v1::Certificate*> by_name;
  for (const v1::Certificate& c : snap->certificates()) by_name[c.name()] = &c;
  ASSERT_EQ(by_name.size(), 4u) << snap->DebugString();
  EXPECT_EQ(by_name.count("unused"), 0u);
  EXPECT_EQ(by_name.count("system"), 0u);
  for (const char* keyed : {"client", "gw-cert", "org-cert"}) {
    ASSERT_EQ(by_name.count(keyed), 1u) << keyed;
    EXPECT_TRUE(by_name[keyed]->has_key());
    EXPECT_EQ(by_name[keyed]->key_pem().rfind("-----BEGIN " "PRIVATE KEY-----", 0), 0u) << keyed;
    EXPECT_FALSE(by_name[keyed]->cert_pem().empty());
  }
  EXPECT_EQ(by_name["org-cert"]->cert_pem(), org_.cert_pem);
  ASSERT_EQ(by_name.count("corp-ca"), 1u);
  EXPECT_EQ(by_name["corp-ca"]->key_pem(), "") << "trust anchors travel without their key";
  EXPECT_EQ(snap->DebugString().find(key_body(ca_.key_pem)), std::string::npos);
  EXPECT_NE(snap->DebugString().find(key_body(gw_.key_pem)), std::string::npos)
      << "control: the probe finds a key that is there";

  EXPECT_EQ(snapshot("edge")->certificates_size(), 0) << "other instances get none";

  // Admin answers never carry key material or the password.
  const auto services = store_->list_services("").value();
  for (const v1::Service& listed : services) {
    EXPECT_EQ(listed.DebugString().find("upstream-secret"), std::string::npos);
  }
  const auto certificates = store_->list_certificates().value();
  for (const v1::Certificate& c : certificates) {
    for (const auto* key : {&gw_.key_pem, &org_.key_pem, &ca_.key_pem}) {
      EXPECT_EQ(c.DebugString().find(key_body(*key)), std::string::npos) << c.name();
    }
  }
}

TEST_F(ConfigStoreCertificateTest, CreatingANamedCertificatePushesToTheInstancesNamingIt) {
  // A service written before certificates were checked (schema 001 era) names "late-ca".
  v1::Service legacy = service("legacy");
  legacy.set_instance("default");
  legacy.set_ciphers("DEFAULT");
  legacy.set_port(25);
  legacy.set_tls_min_version("1.2");
  legacy.add_trusted_cas("late-ca");
  storage::ServiceRepository raw(*db_, secrets_);
  ASSERT_TRUE(raw.create(legacy, 1));
  open();  // load it
  EXPECT_EQ(snapshot("default")->certificates_size(), 0) << "dangling name: nothing to send";

  auto def = std::make_shared<RecordingWatcher>();
  auto edge = std::make_shared<RecordingWatcher>();
  hub_->subscribe("default", def);
  hub_->subscribe("edge", edge);
  ASSERT_TRUE(store_->create_certificate(cert_message("late-ca", ca_, false)));
  ASSERT_EQ(def->received.size(), 1u);
  ASSERT_EQ(def->received[0]->certificates_size(), 1);
  EXPECT_EQ(def->received[0]->certificates(0).name(), "late-ca");
  EXPECT_EQ(def->received[0]->version(), version());
  EXPECT_TRUE(edge->received.empty());

  // An unrelated certificate bumps the version without pushing anything.
  ASSERT_TRUE(store_->create_certificate(cert_message("other", org_, true)));
  EXPECT_EQ(def->received.size(), 1u);
}

}  // namespace
}  // namespace gw::controlplane

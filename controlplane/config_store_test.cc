// Tests of ConfigStore: defaults stored, errors, snapshot versions and publication.
#include "controlplane/config_store.h"

#include <google/protobuf/util/field_mask_util.h>
#include <gtest/gtest.h>

#include <optional>

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

TEST_F(ConfigStoreTest, UpdateAppliesMaskAndPassword) {
  v1::Service corp = service("corp");
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
  auto cleared = store_->update_service(patch, mask({"password"}));
  ASSERT_TRUE(cleared);
  EXPECT_FALSE(cleared.value().has_password());
  EXPECT_EQ(snapshot_password(), "");

  EXPECT_EQ(store_->update_service(patch, mask({"name"})).error().code, Code::kInvalidArgument);
  EXPECT_EQ(store_->update_service(patch, mask({})).error().code, Code::kInvalidArgument);
}

TEST_F(ConfigStoreTest, VersionSurvivesRestart) {
  v1::Service corp = service("corp");
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

}  // namespace
}  // namespace gw::controlplane

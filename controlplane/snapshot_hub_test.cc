// Tests of SnapshotHub: atomic subscribe, targeted publication, weak watchers, close.
#include "controlplane/snapshot_hub.h"

#include <gtest/gtest.h>

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

class CountingWatcher : public SnapshotWatcher {
 public:
  void on_snapshot(std::shared_ptr<const v1::ConfigSnapshot> snapshot) override {
    versions.push_back(snapshot->version());
  }
  void on_hub_closed() override { ++closed; }
  std::vector<std::uint64_t> versions;
  int closed = 0;
};

std::shared_ptr<const Configuration> config(std::uint64_t version,
                                            std::initializer_list<const char*> instances) {
  auto c = std::make_shared<Configuration>();
  c->version = version;
  for (const char* instance : instances) {
    auto snap = std::make_shared<v1::ConfigSnapshot>();
    snap->set_version(version);
    snap->set_instance(instance);
    c->instances[instance] = snap;
  }
  return c;
}

TEST(SnapshotHubTest, SubscribeToUnknownInstanceGivesEmptySnapshotAtCurrentVersion) {
  SnapshotHub hub;
  hub.publish(config(7, {"default"}), {});
  auto w = std::make_shared<CountingWatcher>();
  auto first = hub.subscribe("nowhere", w);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->version(), 7u);
  EXPECT_EQ(first->instance(), "nowhere");
  EXPECT_EQ(first->services_size(), 0);
  EXPECT_EQ(hub.subscribe("default", w)->version(), 7u);
}

TEST(SnapshotHubTest, PublishReachesOnlyWatchersOfChangedInstances) {
  SnapshotHub hub;
  auto a = std::make_shared<CountingWatcher>();
  auto b = std::make_shared<CountingWatcher>();
  hub.subscribe("a", a);
  hub.subscribe("b", b);
  hub.publish(config(1, {"a", "b"}), {"a"});
  hub.publish(config(2, {"a", "b"}), {"a", "b"});
  EXPECT_EQ(a->versions, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(b->versions, (std::vector<std::uint64_t>{2}));
  // A changed instance without a snapshot (all its services deleted) gets an empty one.
  hub.publish(config(3, {"a"}), {"b"});
  EXPECT_EQ(b->versions, (std::vector<std::uint64_t>{2, 3}));
}

TEST(SnapshotHubTest, UnsubscribedAndExpiredWatchersAreSkipped) {
  SnapshotHub hub;
  auto kept = std::make_shared<CountingWatcher>();
  auto gone = std::make_shared<CountingWatcher>();
  auto left = std::make_shared<CountingWatcher>();
  hub.subscribe("a", kept);
  hub.subscribe("a", gone);
  hub.subscribe("a", left);
  EXPECT_EQ(hub.watcher_count(), 3u);
  hub.unsubscribe("a", left.get());
  gone.reset();
  hub.publish(config(1, {"a"}), {"a"});
  EXPECT_EQ(kept->versions.size(), 1u);
  EXPECT_TRUE(left->versions.empty());
  EXPECT_EQ(hub.watcher_count(), 1u) << "expired watcher forgotten during publish";
}

TEST(SnapshotHubTest, CloseNotifiesOnceAndRefusesNewWatchers) {
  SnapshotHub hub;
  auto w = std::make_shared<CountingWatcher>();
  hub.subscribe("a", w);
  hub.close();
  hub.close();
  EXPECT_EQ(w->closed, 1);
  EXPECT_EQ(hub.subscribe("a", w), nullptr);
  EXPECT_EQ(hub.watcher_count(), 0u);
}

TEST(SnapshotHubDeathTest, VersionGoingBackwardsAborts) {
  SnapshotHub hub;
  hub.publish(config(5, {}), {});
  EXPECT_DEATH(hub.publish(config(4, {}), {}), "went backwards");
}

}  // namespace
}  // namespace gw::controlplane

// Tests of NodeRepository and ConfigVersionRepository.
#include "storage/node_repository.h"

#include <gtest/gtest.h>

#include "storage/config_version_repository.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

TEST(NodeRepositoryTest, UpsertGetTouchList) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  NodeRepository repo(db);

  NodeRecord n{"relay-1", "default", "host-a", "0.1.0", 100, 100};
  ASSERT_TRUE(repo.upsert(n));
  EXPECT_EQ(repo.get("relay-1").value(), n);

  NodeRecord again{"relay-1", "edge", "host-b", "0.2.0", 200, 200};
  ASSERT_TRUE(repo.upsert(again));
  EXPECT_EQ(repo.get("relay-1").value(), again);

  ASSERT_TRUE(repo.touch("relay-1", "edge", 300));
  NodeRecord touched = again;
  touched.last_seen_ms = 300;
  EXPECT_EQ(repo.get("relay-1").value(), touched);

  ASSERT_TRUE(repo.touch("relay-0", "default", 400));
  EXPECT_EQ(repo.get("relay-0").value(), (NodeRecord{"relay-0", "default", "", "", 400, 400}));

  auto all = repo.list();
  ASSERT_EQ(all.value().size(), 2u);
  EXPECT_EQ(all.value()[0].node_id, "relay-0");
  EXPECT_EQ(all.value()[1].node_id, "relay-1");
  EXPECT_EQ(repo.get("ghost").error().code, Errc::kNotFound);
}

TEST(ConfigVersionRepositoryTest, BumpsAndPersists) {
  TestTempDir dir;
  {
    Database db = Database::open(dir.file("gw.db"));
    ConfigVersionRepository versions(db);
    EXPECT_EQ(versions.current().value(), 0u);
    EXPECT_EQ(versions.bump().value(), 1u);
    EXPECT_EQ(versions.bump().value(), 2u);
  }
  Database db = Database::open(dir.file("gw.db"));
  ConfigVersionRepository versions(db);
  EXPECT_EQ(versions.current().value(), 2u);
  EXPECT_EQ(versions.bump().value(), 3u);
}

}  // namespace
}  // namespace gw::storage

// Tests of the SQLite handle: pragmas, migrations (idempotent, atomic), transactions, binds.
#include "storage/database.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>

#include "storage/config_version_repository.h"
#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

std::int64_t scalar(Database& db, std::string_view sql) {
  auto stmt = db.prepare(sql);
  EXPECT_TRUE(stmt) << stmt.error().message;
  auto row = stmt.value().step();
  EXPECT_TRUE(row && row.value());
  return stmt.value().column_int64(0);
}

std::string text(Database& db, std::string_view sql) {
  auto stmt = db.prepare(sql);
  EXPECT_TRUE(stmt) << stmt.error().message;
  auto row = stmt.value().step();
  EXPECT_TRUE(row && row.value());
  return stmt.value().column_text(0);
}

bool table_exists(Database& db, std::string_view name) {
  auto stmt = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  stmt.value().bind_text(1, name);
  EXPECT_TRUE(stmt.value().step().value());
  return stmt.value().column_int64(0) == 1;
}

TEST(DatabaseTest, OpenCreatesSchemaWithWalAndForeignKeys) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  EXPECT_TRUE(std::filesystem::exists(dir.file("gw.db")));
  EXPECT_EQ(db.schema_version(), embedded_migrations().back().version);
  EXPECT_EQ(text(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(scalar(db, "PRAGMA temp_store"), 2);  // MEMORY: no journal files under /var/tmp
  EXPECT_EQ(scalar(db, "PRAGMA busy_timeout"), Database::kBusyTimeoutMs);
  for (const char* table :
       {"services", "service_trusted_cas", "interfaces", "nodes", "config_version",
        "schema_migrations", "certificates", "interface_sni_certs"}) {
    EXPECT_TRUE(table_exists(db, table)) << table;
  }
}

TEST(DatabaseTest, EmbeddedMigrationsAreNumberedWithoutGaps) {
  auto migrations = embedded_migrations();
  ASSERT_FALSE(migrations.empty());
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
    EXPECT_FALSE(migrations[i].sql.empty());
  }
  EXPECT_EQ(migrations.front().name, "001_init.sql");
}

TEST(DatabaseTest, ReopenIsIdempotentAndKeepsData) {
  TestTempDir dir;
  {
    Database db = Database::open(dir.file("gw.db"));
    ConfigVersionRepository versions(db);
    EXPECT_EQ(versions.bump().value(), 1u);
  }
  for (int i = 0; i < 2; ++i) {
    Database db = Database::open(dir.file("gw.db"));
    EXPECT_EQ(db.schema_version(), embedded_migrations().back().version);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM schema_migrations"),
              static_cast<std::int64_t>(embedded_migrations().size()));
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM config_version"), 1);
    EXPECT_EQ(ConfigVersionRepository(db).current().value(), 1u);
  }
}

TEST(DatabaseTest, LaterMigrationIsAppliedOnceOnReopen) {
  TestTempDir dir;
  const std::array<Migration, 2> migrations = {
      Migration{1, "001_a.sql", "CREATE TABLE a (x INTEGER);"},
      Migration{2, "002_b.sql", "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO a VALUES (1, 'y');"},
  };
  {
    Database db = Database::open(dir.file("gw.db"), std::span(migrations).first(1));
    EXPECT_EQ(db.schema_version(), 1);
  }
  for (int i = 0; i < 2; ++i) {
    Database db = Database::open(dir.file("gw.db"), migrations);
    EXPECT_EQ(db.schema_version(), 2);
    EXPECT_EQ(scalar(db, "SELECT count(*) FROM a"), 1) << "002 must run exactly once";
  }
}

TEST(DatabaseTest, FailedMigrationLeavesNothingBehind) {
  TestTempDir dir;
  const std::array<Migration, 2> migrations = {
      Migration{1, "001_a.sql", "CREATE TABLE a (x INTEGER);"},
      Migration{2, "002_bad.sql", "CREATE TABLE b (x INTEGER); SELECT * FROM no_such_table;"},
  };
  EXPECT_THROW(Database::open(dir.file("gw.db"), migrations), std::runtime_error);
  Database db = Database::open(dir.file("gw.db"), std::span(migrations).first(0));
  EXPECT_EQ(db.schema_version(), 0);
  EXPECT_FALSE(table_exists(db, "a"));
  EXPECT_FALSE(table_exists(db, "b"));
}

TEST(DatabaseTest, RefusesSchemaNewerThanKnown) {
  TestTempDir dir;
  const std::array<Migration, 2> migrations = {
      Migration{1, "001_a.sql", "CREATE TABLE a (x INTEGER);"},
      Migration{2, "002_b.sql", "CREATE TABLE b (x INTEGER);"},
  };
  { Database::open(dir.file("gw.db"), migrations); }
  EXPECT_THROW(Database::open(dir.file("gw.db"), std::span(migrations).first(1)),
               std::runtime_error);
}

TEST(DatabaseTest, OpenFailsForUnwritableLocation) {
  TestTempDir dir;
  EXPECT_THROW(Database::open(dir.file("missing-dir") / "gw.db"), std::runtime_error);
}

TEST(DatabaseTest, BoundParametersAreNeverInterpretedAsSql) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  const std::string hostile = "x'); DROP TABLE nodes; --";
  auto insert = db.prepare(
      "INSERT INTO nodes (node_id, instance, registered_at_ms, last_seen_ms) "
      "VALUES (?1, 'default', 1, 1)");
  insert.value().bind_text(1, hostile);
  ASSERT_TRUE(insert.value().run());
  EXPECT_TRUE(table_exists(db, "nodes"));
  EXPECT_EQ(text(db, "SELECT node_id FROM nodes"), hostile);
}

TEST(DatabaseTest, ConstraintErrorsMapToCodes) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  auto insert = [&db](std::string_view id) {
    auto stmt = db.prepare(
        "INSERT INTO nodes (node_id, instance, registered_at_ms, last_seen_ms) "
        "VALUES (?1, 'default', 1, 1)");
    stmt.value().bind_text(1, id);
    return stmt.value().run();
  };
  ASSERT_TRUE(insert("n1"));
  auto duplicate = insert("n1");
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, Errc::kAlreadyExists);

  auto bad_fk = db.prepare(
      "INSERT INTO interfaces (service_id, type, bind_address, port, created_at_ms) "
      "VALUES (42, 'tcp', '127.0.0.1', 25, 1)");
  auto fk = bad_fk.value().run();
  ASSERT_FALSE(fk);
  EXPECT_EQ(fk.error().code, Errc::kConstraint) << fk.error().message;

  auto bad_sql = db.prepare("SELECT * FROM no_such_table");
  ASSERT_FALSE(bad_sql);
  EXPECT_EQ(bad_sql.error().code, Errc::kInternal);
}

TEST(DatabaseTest, BindOutOfRangeIsReportedByStep) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  auto stmt = db.prepare("SELECT ?1");
  stmt.value().bind_int64(2, 7);
  auto row = stmt.value().step();
  ASSERT_FALSE(row);
  EXPECT_NE(row.error().message.find("parameter 2"), std::string::npos);
}

TEST(DatabaseTest, PersistentStatementRunsAgainAfterResetWithFreshBindings) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  auto insert = db.prepare_persistent(
      "INSERT INTO nodes (node_id, instance, registered_at_ms, last_seen_ms) "
      "VALUES (?1, ?2, 1, 1)");
  ASSERT_TRUE(insert);
  Statement& stmt = insert.value();
  for (const std::string id : {"n1", "n2"}) {
    const std::string instance = "inst-" + id;  // bound without a copy, alive until reset()
    stmt.bind_text_static(1, id).bind_text_static(2, instance);
    ASSERT_TRUE(stmt.run());
    stmt.reset();
  }
  EXPECT_EQ(text(db, "SELECT group_concat(node_id || '/' || instance, ',') FROM nodes"),
            "n1/inst-n1,n2/inst-n2");
  // A failed run (duplicate key) leaves the statement usable after reset().
  stmt.bind_text(1, "n1").bind_text(2, "x");
  auto duplicate = stmt.run();
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, Errc::kAlreadyExists);
  stmt.reset();
  // reset() unbinds: the NOT NULL node_id now fails instead of reusing "n1".
  stmt.bind_text(2, "y");
  auto unbound = stmt.run();
  ASSERT_FALSE(unbound);
  EXPECT_EQ(unbound.error().code, Errc::kConstraint) << unbound.error().message;
  stmt.reset();
  // A remembered bind failure is forgotten by reset().
  stmt.bind_int64(9, 1);
  EXPECT_FALSE(stmt.run());
  stmt.reset();
  stmt.bind_text(1, "n3").bind_text(2, "z");
  EXPECT_TRUE(stmt.run());
}

TEST(DatabaseTest, UncommittedTransactionRollsBackAndNestedCommitFolds) {
  TestTempDir dir;
  Database db = Database::open(dir.file("gw.db"));
  ConfigVersionRepository versions(db);
  {
    auto tx = Transaction::begin(db);
    ASSERT_TRUE(tx);
    EXPECT_EQ(versions.bump().value(), 1u);
  }
  EXPECT_EQ(versions.current().value(), 0u);
  {
    auto outer = Transaction::begin(db);
    EXPECT_EQ(versions.bump().value(), 1u);
    {
      auto inner = Transaction::begin(db);
      EXPECT_EQ(versions.bump().value(), 2u);
      ASSERT_TRUE(inner.value().commit());
    }
    {
      auto inner = Transaction::begin(db);
      EXPECT_EQ(versions.bump().value(), 3u);  // rolled back: not committed
    }
    EXPECT_EQ(versions.current().value(), 2u);
    ASSERT_TRUE(outer.value().commit());
  }
  Database reopened = Database::open(dir.file("gw.db"));
  EXPECT_EQ(ConfigVersionRepository(reopened).current().value(), 2u);
}

TEST(DatabaseTest, ReadThenWriteTransactionSurvivesAnotherConnectionsCommit) {
  // Two connections, as gctld's DB thread and audit writer. A transaction that reads and
  // then writes must not fail because the other connection committed in between: with a
  // deferred transaction SQLite answers SQLITE_BUSY at once (snapshot too old), whatever
  // the busy timeout (seen in CI, session 7: an admin call got UNAVAILABLE).
  TestTempDir dir;
  Database admin = Database::open(dir.file("gw.db"));
  Database writer = Database::open(dir.file("gw.db"));
  ConfigVersionRepository versions(admin);
  std::atomic<bool> read_done{false};
  std::atomic<bool> writer_done{false};
  bool writer_ok = false;
  std::thread other([&] {
    while (!read_done) std::this_thread::yield();
    auto tx = Transaction::begin(writer);  // waits for the admin's write lock, if held
    writer_ok = tx && ConfigVersionRepository(writer).bump() && tx.value().commit();
    writer_done = true;
  });
  {
    auto tx = Transaction::begin(admin);
    ASSERT_TRUE(tx);
    const std::uint64_t seen = versions.current().value();  // the read
    read_done = true;
    // Give the other connection the chance to commit between the read and the write.
    for (int i = 0; i < 100 && !writer_done; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto bumped = versions.bump();
    ASSERT_TRUE(bumped) << bumped.error().message;
    EXPECT_EQ(bumped.value(), seen + 1);
    ASSERT_TRUE(tx.value().commit());
  }
  other.join();
  EXPECT_TRUE(writer_ok);
  EXPECT_EQ(versions.current().value(), 2u);
}

}  // namespace
}  // namespace gw::storage

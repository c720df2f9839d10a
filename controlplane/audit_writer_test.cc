// Tests of the background audit writer: batches reach SQLite, nothing is lost at stop,
// followers see matching records, secrets are never stored.
#include "controlplane/audit_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <fstream>
#include <iterator>

#include "storage/test_temp_dir.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

v1::AuditRecord record(int i, std::string service = "corp") {
  v1::AuditRecord r;
  r.set_decision_id("d-" + std::to_string(i));
  r.set_time_ms(1000 + i);
  r.set_node_id("n1");
  r.set_service(std::move(service));
  r.set_command(i % 2 ? v1::SMTP_COMMAND_MAIL : v1::SMTP_COMMAND_RCPT);
  r.set_verdict(v1::VERDICT_CONTINUE);
  (*r.mutable_attributes())["authentication.subject.password"] = "never-stored-pw";
  (*r.mutable_attributes())["smtp.mail.from"] = "a@example.com";
  return r;
}

class Collecting : public AuditFollower {
 public:
  void on_records(const std::vector<v1::AuditRecord>& records) override {
    for (const auto& r : records) {
      v1::AuditQuery q;
      q.set_command(v1::SMTP_COMMAND_MAIL);
      if (audit_matches(r, q)) ++mail;
    }
  }
  void on_writer_stopped() override { stopped = true; }
  std::atomic<int> mail{0};
  std::atomic<bool> stopped{false};
};

TEST(AuditWriterTest, EverySubmittedRecordIsWrittenAndFollowed) {
  storage::TestTempDir dir;
  auto db = storage::Database::open(dir.file("gw.db"));  // migrates, like gctld's connection
  auto follower = std::make_shared<Collecting>();
  {
    AuditWriter writer(dir.file("gw.db"));
    writer.follow(follower);
    for (int i = 0; i < 5000; ++i) ASSERT_TRUE(writer.submit(record(i)));
    writer.flush();
    EXPECT_EQ(writer.written(), 5000u);
    for (int i = 5000; i < 5100; ++i) ASSERT_TRUE(writer.submit(record(i)));
    writer.stop();  // drains the last 100
    EXPECT_EQ(writer.written(), 5100u);
    EXPECT_FALSE(writer.submit(record(9999)));
  }
  EXPECT_EQ(follower->mail.load(), 2550);
  EXPECT_TRUE(follower->stopped.load());

  storage::AuditRepository repo(db);
  v1::AuditQuery all;
  all.set_limit(10000);
  auto rows = repo.query(all);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows.value().size(), 5100u);
  EXPECT_FALSE(rows.value()[0].record.attributes().contains("authentication.subject.password"));
  std::ifstream file(dir.file("gw.db"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find("never-stored-pw"), std::string::npos);
}

TEST(AuditWriterTest, MatchesAppliesEveryFilter) {
  v1::AuditRecord r = record(1);
  v1::AuditQuery q;
  EXPECT_TRUE(audit_matches(r, q));
  q.set_service("other");
  EXPECT_FALSE(audit_matches(r, q));
  q.set_service("corp");
  q.set_since_ms(2000);
  EXPECT_FALSE(audit_matches(r, q));
  q.set_since_ms(1000);
  q.set_verdict(v1::VERDICT_REJECT);
  EXPECT_FALSE(audit_matches(r, q));
  q.set_verdict(v1::VERDICT_CONTINUE);
  q.set_node_id("n2");
  EXPECT_FALSE(audit_matches(r, q));
  q.set_node_id("n1");
  EXPECT_TRUE(audit_matches(r, q));
}

}  // namespace
}  // namespace gw::controlplane

namespace gw::controlplane {
namespace {

TEST(AuditWriterRetentionTest, RecordsPastTheRetentionAreDeletedAtStart) {
  storage::TestTempDir dir;
  auto db = storage::Database::open(dir.file("gw.db"));
  {
    AuditWriter keep_all(dir.file("gw.db"));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(keep_all.submit(record(i)));  // 1970 times
    auto fresh = record(100);
    fresh.set_time_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
    ASSERT_TRUE(keep_all.submit(fresh));
  }
  AuditWriter pruning(dir.file("gw.db"), std::chrono::hours(24));
  storage::AuditRepository repo(db);
  v1::AuditQuery all;
  all.set_limit(100);
  std::size_t left = 0;
  for (int i = 0; i < 100; ++i) {  // the start-up pruning runs on the writer thread
    left = repo.query(all).value().size();
    if (left == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(left, 1u);
}

}  // namespace
}  // namespace gw::controlplane

namespace gw::controlplane {
namespace {

TEST(AuditWriterLatencyTest, AFewRecordsAreWrittenWithinTheFlushIntervalUnprompted) {
  storage::TestTempDir dir;
  auto db = storage::Database::open(dir.file("gw.db"));
  AuditWriter writer(dir.file("gw.db"), std::chrono::hours(24));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.submit(record(i)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (writer.written() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(writer.written(), 3u) << "records wait for a batch that never fills";
}

}  // namespace
}  // namespace gw::controlplane

namespace gw::controlplane {
namespace {

TEST(AuditWriterRetryTest, ABatchThatFailsHalfWayIsWrittenWholeOnceTheDatabaseRecovers) {
  storage::TestTempDir dir;
  auto db = storage::Database::open(dir.file("gw.db"));
  // A fault in the middle of a batch: the insert of d-40 fails while the table `fault`
  // holds a row. The rows of the same batch inserted before it must not stay half-written,
  // and the retry must write every record exactly once.
  for (const char* sql : {"CREATE TABLE fault (on_id TEXT)",
                          "INSERT INTO fault VALUES ('d-40')",
                          "CREATE TRIGGER fail_d40 BEFORE INSERT ON audit "
                          "WHEN NEW.decision_id IN (SELECT on_id FROM fault) "
                          "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"}) {
    auto stmt = db.prepare(sql);
    ASSERT_TRUE(stmt) << sql;
    ASSERT_TRUE(stmt.value().run()) << sql;
  }
  AuditWriter writer(dir.file("gw.db"));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(writer.submit(record(i)));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // a few failed attempts
  EXPECT_EQ(writer.written(), 0u) << "a batch with a failed insert counted as written";
  {
    auto count = db.prepare("SELECT count(*) FROM audit");
    ASSERT_TRUE(count);
    ASSERT_TRUE(count.value().step().value());
    EXPECT_EQ(count.value().column_int64(0), 0) << "part of a failed batch was committed";
  }
  auto clear = db.prepare("DELETE FROM fault");
  ASSERT_TRUE(clear);
  ASSERT_TRUE(clear.value().run());
  writer.flush();
  EXPECT_EQ(writer.written(), 100u);
  auto count = db.prepare("SELECT count(*), count(DISTINCT decision_id) FROM audit");
  ASSERT_TRUE(count);
  ASSERT_TRUE(count.value().step().value());
  EXPECT_EQ(count.value().column_int64(0), 100);
  EXPECT_EQ(count.value().column_int64(1), 100);
}

}  // namespace
}  // namespace gw::controlplane

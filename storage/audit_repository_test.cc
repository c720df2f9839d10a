// Tests of AuditRepository: batch appends, every query filter, ordering, the follow cursor,
// retention, the password never reaching the file, and the batch throughput.
#include "storage/audit_repository.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "storage/test_temp_dir.h"

namespace gw::storage {
namespace {

namespace v1 = gateway::v1;

v1::AuditRecord record(std::string id, std::int64_t time_ms, std::string service, std::string node,
                       v1::SmtpCommand command, v1::Verdict verdict) {
  v1::AuditRecord r;
  r.set_decision_id(std::move(id));
  r.set_time_ms(time_ms);
  r.set_node_id(std::move(node));
  r.set_session_id("s-1");
  r.set_service(std::move(service));
  r.set_interface_id(3);
  r.set_client_address("192.0.2.7:50123");
  r.set_command(command);
  r.set_handler_id(9);
  r.set_policy("only-example-com");
  r.set_verdict(verdict);
  if (verdict == v1::VERDICT_REJECT) {
    r.mutable_reply()->set_code(550);
    r.mutable_reply()->set_enhanced_code("5.7.1");
    r.mutable_reply()->set_text("Sender not allowed");
  }
  r.set_latency_us(412);
  (*r.mutable_attributes())["smtp.mail.from"] = "a@example.org";
  return r;
}

std::vector<std::string> ids(const std::vector<AuditEntry>& entries) {
  std::vector<std::string> out;
  for (const AuditEntry& e : entries) out.push_back(e.record.decision_id());
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class AuditRepositoryTest : public ::testing::Test {
 protected:
  // Six records over two services, two nodes, three commands and three verdicts, appended
  // out of time order (d3 is the newest by time, d6 the last appended).
  void seed() {
    const std::vector<v1::AuditRecord> batch = {
        record("d1", 1000, "corp", "relay-1", v1::SMTP_COMMAND_HELO, v1::VERDICT_CONTINUE),
        record("d2", 2000, "corp", "relay-2", v1::SMTP_COMMAND_MAIL, v1::VERDICT_REJECT),
        record("d3", 6000, "edge", "relay-1", v1::SMTP_COMMAND_MAIL, v1::VERDICT_CONTINUE),
        record("d4", 3000, "edge", "relay-2", v1::SMTP_COMMAND_RCPT, v1::VERDICT_TEMPFAIL),
        record("d5", 4000, "corp", "relay-1", v1::SMTP_COMMAND_MAIL, v1::VERDICT_REJECT),
        record("d6", 5000, "corp", "relay-1", v1::SMTP_COMMAND_RCPT, v1::VERDICT_CONTINUE),
    };
    auto appended = audit_.append_batch(batch);
    ASSERT_TRUE(appended) << appended.error().message;
    ASSERT_EQ(appended.value(), 6u);
  }

  std::vector<std::string> query_ids(const v1::AuditQuery& q) {
    auto r = audit_.query(q);
    EXPECT_TRUE(r) << r.error().message;
    return r ? ids(r.value()) : std::vector<std::string>{};
  }

  TestTempDir dir_;
  Database db_ = Database::open(dir_.file("gw.db"));
  AuditRepository audit_{db_};
};

TEST_F(AuditRepositoryTest, AppendInTransactionNeedsTheCallersTransactionAndCommitsWithIt) {
  const std::vector<v1::AuditRecord> first = {
      record("t1", 1000, "corp", "relay-1", v1::SMTP_COMMAND_MAIL, v1::VERDICT_CONTINUE),
      record("t2", 1001, "corp", "relay-1", v1::SMTP_COMMAND_RCPT, v1::VERDICT_REJECT)};
  const std::vector<v1::AuditRecord> second = {
      record("t3", 1002, "corp", "relay-1", v1::SMTP_COMMAND_DATA, v1::VERDICT_CONTINUE)};

  // Outside a transaction nothing is written.
  auto outside = audit_.append_in_transaction(first);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code, Errc::kInternal);
  EXPECT_TRUE(query_ids({}).empty());

  // Rolled back: every slice of the transaction goes.
  {
    auto tx = Transaction::begin(db_);
    ASSERT_TRUE(tx);
    ASSERT_EQ(audit_.append_in_transaction(first).value(), 2u);
    ASSERT_EQ(audit_.append_in_transaction(second).value(), 1u);
    // `tx` ends without commit: rolled back.
  }
  EXPECT_TRUE(query_ids({}).empty());

  // Committed: both slices, and an id already stored is skipped, not an error.
  auto tx = Transaction::begin(db_);
  ASSERT_TRUE(tx);
  ASSERT_EQ(audit_.append_in_transaction(first).value(), 2u);
  ASSERT_EQ(audit_.append_in_transaction(second).value(), 1u);
  ASSERT_EQ(audit_.append_in_transaction(second).value(), 0u);
  ASSERT_TRUE(tx.value().commit());
  EXPECT_EQ(query_ids({}), (std::vector<std::string>{"t3", "t2", "t1"}));
}

TEST_F(AuditRepositoryTest, RoundTripsEveryField) {
  v1::AuditRecord r =
      record("dec-42", 1700000000123, "corp", "relay-1", v1::SMTP_COMMAND_MAIL, v1::VERDICT_REJECT);
  (*r.mutable_attributes())["message.protocol.type"] = "ESMTP";
  (*r.mutable_attributes())["quote\"and\\slash"] = "line\r\nbreak\t\x01";
  ASSERT_TRUE(audit_.append_batch({&r, 1}));

  auto got = audit_.query({});
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got.value().size(), 1u);
  const v1::AuditRecord& back = got.value()[0].record;
  EXPECT_EQ(back.decision_id(), "dec-42");
  EXPECT_EQ(back.time_ms(), 1700000000123);
  EXPECT_EQ(back.node_id(), "relay-1");
  EXPECT_EQ(back.session_id(), "s-1");
  EXPECT_EQ(back.service(), "corp");
  EXPECT_EQ(back.interface_id(), 3);
  EXPECT_EQ(back.client_address(), "192.0.2.7:50123");
  EXPECT_EQ(back.command(), v1::SMTP_COMMAND_MAIL);
  EXPECT_EQ(back.handler_id(), 9);
  EXPECT_EQ(back.policy(), "only-example-com");
  EXPECT_EQ(back.verdict(), v1::VERDICT_REJECT);
  EXPECT_EQ(back.reply().code(), 550u);
  EXPECT_EQ(back.reply().enhanced_code(), "5.7.1");
  EXPECT_EQ(back.reply().text(), "Sender not allowed");
  EXPECT_EQ(back.latency_us(), 412);
  ASSERT_EQ(back.attributes().size(), 3u);
  EXPECT_EQ(back.attributes().at("smtp.mail.from"), "a@example.org");
  EXPECT_EQ(back.attributes().at("message.protocol.type"), "ESMTP");
  EXPECT_EQ(back.attributes().at("quote\"and\\slash"), "line\r\nbreak\t\x01");
  EXPECT_GT(got.value()[0].cursor, 0);
}

TEST_F(AuditRepositoryTest, QueryIsNewestFirstByTime) {
  seed();
  EXPECT_EQ(query_ids({}), (std::vector<std::string>{"d3", "d6", "d5", "d4", "d2", "d1"}));
}

TEST_F(AuditRepositoryTest, EqualTimesKeepInsertionOrderNewestFirst) {
  std::vector<v1::AuditRecord> batch;
  for (const char* id : {"x1", "x2", "x3"}) {
    batch.push_back(
        record(id, 7000, "corp", "relay-1", v1::SMTP_COMMAND_RCPT, v1::VERDICT_CONTINUE));
  }
  ASSERT_TRUE(audit_.append_batch(batch));
  EXPECT_EQ(query_ids({}), (std::vector<std::string>{"x3", "x2", "x1"}));
}

TEST_F(AuditRepositoryTest, EachFilterAndTheirCombination) {
  seed();
  v1::AuditQuery q;
  q.set_since_ms(4000);
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d3", "d6", "d5"}));

  q = {};
  q.set_service("edge");
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d3", "d4"}));

  q = {};
  q.set_node_id("relay-2");
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d4", "d2"}));

  q = {};
  q.set_command(v1::SMTP_COMMAND_MAIL);
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d3", "d5", "d2"}));

  q = {};
  q.set_verdict(v1::VERDICT_REJECT);
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d5", "d2"}));

  q = {};
  q.set_verdict(v1::VERDICT_TEMPFAIL);
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d4"}));

  q = {};
  q.set_limit(2);
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d3", "d6"}));

  q = {};
  q.set_service("corp");
  q.set_node_id("relay-1");
  q.set_command(v1::SMTP_COMMAND_MAIL);
  q.set_verdict(v1::VERDICT_REJECT);
  q.set_since_ms(1500);
  EXPECT_EQ(query_ids(q), (std::vector<std::string>{"d5"}));

  q = {};
  q.set_service("nowhere");
  EXPECT_TRUE(query_ids(q).empty());

  // A filter value is data, never SQL.
  q = {};
  q.set_service("corp' OR '1'='1");
  EXPECT_TRUE(query_ids(q).empty());
}

TEST_F(AuditRepositoryTest, StatsCountPerServiceCommandAndVerdictWithFilters) {
  seed();
  // d2 and d5 (corp MAIL reject) are one group: latencies 100 and 301 → mean 201 (200.5
  // rounded), max 301.
  std::vector<v1::AuditRecord> more = {
      record("d7", 4500, "corp", "relay-1", v1::SMTP_COMMAND_MAIL, v1::VERDICT_REJECT)};
  more[0].set_latency_us(301);
  ASSERT_TRUE(audit_.append_batch(more));
  ASSERT_TRUE(db_.prepare("UPDATE audit SET latency_us = 100 WHERE decision_id IN ('d2', 'd5')")
                  .value()
                  .run());
  auto rows = [this](std::int64_t since, std::string service, std::string node) {
    v1::StatsRequest request;
    request.set_since_ms(since);
    request.set_service(std::move(service));
    request.set_node_id(std::move(node));
    auto stats = audit_.stats(request);
    EXPECT_TRUE(stats) << stats.error().message;
    std::vector<std::string> out;
    for (const auto& d : stats.value()) {
      out.push_back(d.service() + " " + v1::SmtpCommand_Name(d.command()) + " " +
                    v1::Verdict_Name(d.verdict()) + " " + std::to_string(d.decisions()) + " " +
                    std::to_string(d.latency_avg_us()) + " " + std::to_string(d.latency_max_us()));
    }
    return out;
  };
  // SMTP order within a service (HELO before MAIL before RCPT), not alphabetical.
  EXPECT_EQ(rows(0, "", ""), (std::vector<std::string>{
                                 "corp SMTP_COMMAND_HELO VERDICT_CONTINUE 1 412 412",
                                 "corp SMTP_COMMAND_MAIL VERDICT_REJECT 3 167 301",
                                 "corp SMTP_COMMAND_RCPT VERDICT_CONTINUE 1 412 412",
                                 "edge SMTP_COMMAND_MAIL VERDICT_CONTINUE 1 412 412",
                                 "edge SMTP_COMMAND_RCPT VERDICT_TEMPFAIL 1 412 412"}));
  EXPECT_EQ(rows(4000, "corp", ""), (std::vector<std::string>{
                                        "corp SMTP_COMMAND_MAIL VERDICT_REJECT 2 201 301",
                                        "corp SMTP_COMMAND_RCPT VERDICT_CONTINUE 1 412 412"}));
  EXPECT_EQ(rows(0, "", "relay-2"), (std::vector<std::string>{
                                        "corp SMTP_COMMAND_MAIL VERDICT_REJECT 1 100 100",
                                        "edge SMTP_COMMAND_RCPT VERDICT_TEMPFAIL 1 412 412"}));
  EXPECT_TRUE(rows(7000, "", "").empty());
}

TEST_F(AuditRepositoryTest, DefaultAndMaximumLimits) {
  std::vector<v1::AuditRecord> batch;
  for (int i = 0; i < 150; ++i) {
    batch.push_back(record("r" + std::to_string(i), i, "corp", "relay-1", v1::SMTP_COMMAND_RCPT,
                           v1::VERDICT_CONTINUE));
  }
  ASSERT_EQ(audit_.append_batch(batch).value(), 150u);
  auto page = audit_.query({});
  ASSERT_TRUE(page);
  ASSERT_EQ(page.value().size(), AuditRepository::kDefaultLimit);
  EXPECT_EQ(page.value().front().record.decision_id(), "r149");
  v1::AuditQuery q;
  q.set_limit(1'000'000);
  EXPECT_EQ(audit_.query(q).value().size(), 150u);
}

TEST_F(AuditRepositoryTest, AfterCursorFollowsInAppendOrderWithFilters) {
  auto start = audit_.last_cursor();
  ASSERT_TRUE(start);
  EXPECT_EQ(start.value(), 0);
  seed();

  auto all = audit_.after(start.value(), {});
  ASSERT_TRUE(all);
  EXPECT_EQ(ids(all.value()), (std::vector<std::string>{"d1", "d2", "d3", "d4", "d5", "d6"}));
  for (std::size_t i = 1; i < all.value().size(); ++i) {
    EXPECT_LT(all.value()[i - 1].cursor, all.value()[i].cursor);
  }
  const std::int64_t mid = all.value()[2].cursor;  // d3
  EXPECT_EQ(ids(audit_.after(mid, {}).value()), (std::vector<std::string>{"d4", "d5", "d6"}));

  v1::AuditQuery corp;
  corp.set_service("corp");
  EXPECT_EQ(ids(audit_.after(mid, corp).value()), (std::vector<std::string>{"d5", "d6"}));
  v1::AuditQuery since;
  since.set_since_ms(4500);
  EXPECT_EQ(ids(audit_.after(start.value(), since).value()),
            (std::vector<std::string>{"d3", "d6"}));
  v1::AuditQuery two;
  two.set_limit(2);
  EXPECT_EQ(ids(audit_.after(start.value(), two).value()), (std::vector<std::string>{"d1", "d2"}));

  EXPECT_EQ(audit_.last_cursor().value(), all.value().back().cursor);
  EXPECT_TRUE(audit_.after(audit_.last_cursor().value(), {}).value().empty());

  std::vector<v1::AuditRecord> more = {
      record("d7", 100, "corp", "relay-1", v1::SMTP_COMMAND_DATA, v1::VERDICT_CONTINUE)};
  ASSERT_TRUE(audit_.append_batch(more));
  EXPECT_EQ(ids(audit_.after(all.value().back().cursor, {}).value()),
            std::vector<std::string>{"d7"})
      << "an old time_ms appended late is still seen by a follower";
}

TEST_F(AuditRepositoryTest, DuplicateDecisionIdsAreSkippedNotDoubled) {
  seed();
  std::vector<v1::AuditRecord> retry = {
      record("d2", 2000, "corp", "relay-2", v1::SMTP_COMMAND_MAIL, v1::VERDICT_REJECT),
      record("d8", 8000, "corp", "relay-2", v1::SMTP_COMMAND_MAIL, v1::VERDICT_REJECT)};
  auto appended = audit_.append_batch(retry);
  ASSERT_TRUE(appended) << appended.error().message;
  EXPECT_EQ(appended.value(), 1u);
  EXPECT_EQ(audit_.query({}).value().size(), 7u);
}

TEST_F(AuditRepositoryTest, BatchesOfEverySizeUseTheCachedStatementsAndKeepEveryRow) {
  // append_batch cuts a batch into cached statements of 128, 64, ..., 1 rows: every size
  // up to 300 (twice, so the cached statements are reused) stores each record once, with
  // its own values.
  int next = 0;
  std::size_t total = 0;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t n : {1u, 2u, 3u, 5u, 7u, 8u, 63u, 127u, 128u, 129u, 255u, 300u}) {
      std::vector<v1::AuditRecord> batch;
      for (std::size_t i = 0; i < n; ++i, ++next) {
        auto r = record("id-" + std::to_string(next), 1000 + next, "svc", "relay-1",
                        v1::SMTP_COMMAND_RCPT, v1::VERDICT_CONTINUE);
        (*r.mutable_attributes())["smtp.rcpt.to"] = "r" + std::to_string(next) + "@example.org";
        batch.push_back(std::move(r));
      }
      auto appended = audit_.append_batch(batch);
      ASSERT_TRUE(appended) << appended.error().message;
      ASSERT_EQ(appended.value(), n);
      total += n;
    }
  }
  v1::AuditQuery all;
  all.set_limit(AuditRepository::kMaxLimit);
  auto rows = audit_.query(all);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows.value().size(), total);
  for (const AuditEntry& e : rows.value()) {
    const std::string n = e.record.decision_id().substr(3);
    EXPECT_EQ(e.record.time_ms(), 1000 + std::stoi(n));
    EXPECT_EQ(e.record.attributes().at("smtp.rcpt.to"), "r" + n + "@example.org");
  }
}

TEST_F(AuditRepositoryTest, BatchIsAllOrNothing) {
  std::vector<v1::AuditRecord> batch;
  for (int i = 0; i < 300; ++i) {  // more than one INSERT statement's worth
    batch.push_back(record("b" + std::to_string(i), i, "corp", "relay-1", v1::SMTP_COMMAND_MAIL,
                           v1::VERDICT_CONTINUE));
  }
  batch[250].set_decision_id("");
  auto refused = audit_.append_batch(batch);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kConstraint);
  EXPECT_TRUE(audit_.query({}).value().empty());
  EXPECT_EQ(audit_.append_batch({}).value(), 0u);

  // A failure in a later INSERT statement of the batch (a trigger refuses row 250, after
  // the first statement's rows went in) rolls the earlier rows back too.
  batch[250].set_decision_id("b250");
  ASSERT_TRUE(db_.prepare("CREATE TEMP TRIGGER refuse_b250 BEFORE INSERT ON audit "
                          "WHEN NEW.decision_id = 'b250' BEGIN SELECT RAISE(ABORT, 'refused'); END")
                  .value()
                  .run());
  refused = audit_.append_batch(batch);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(audit_.query({}).value().empty());
  EXPECT_EQ(audit_.last_cursor().value(), 0);

  // append_batch nests in a caller's transaction: rolling that back keeps nothing either.
  ASSERT_TRUE(db_.prepare("DROP TRIGGER refuse_b250").value().run());
  {
    auto outer = Transaction::begin(db_);
    ASSERT_TRUE(outer);
    ASSERT_EQ(audit_.append_batch(batch).value(), 300u);
  }
  EXPECT_TRUE(audit_.query({}).value().empty());
  ASSERT_EQ(audit_.append_batch(batch).value(), 300u);
  v1::AuditQuery q;
  q.set_limit(1000);
  EXPECT_EQ(audit_.query(q).value().size(), 300u);
}

TEST_F(AuditRepositoryTest, PruneBeforeDeletesOldRowsAndCursorsNeverComeRound) {
  seed();
  auto pruned = audit_.prune_before(3000);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(pruned.value(), 2);  // d1 (1000), d2 (2000)
  EXPECT_EQ(query_ids({}), (std::vector<std::string>{"d3", "d6", "d5", "d4"}));

  const std::int64_t before = audit_.last_cursor().value();
  EXPECT_EQ(audit_.prune_before(1'000'000).value(), 4);
  EXPECT_TRUE(query_ids({}).empty());
  EXPECT_EQ(audit_.last_cursor().value(), before) << "pruning keeps the cursor";

  std::vector<v1::AuditRecord> next = {
      record("n1", 9000, "corp", "relay-1", v1::SMTP_COMMAND_HELO, v1::VERDICT_CONTINUE)};
  ASSERT_TRUE(audit_.append_batch(next));
  auto seen = audit_.after(before, {});
  ASSERT_EQ(ids(seen.value()), std::vector<std::string>{"n1"});
  EXPECT_GT(seen.value()[0].cursor, before);
}

TEST_F(AuditRepositoryTest, PruneWorksInSlicesLargerThanOne) {
  std::vector<v1::AuditRecord> batch;
  const int n = static_cast<int>(AuditRepository::kPruneSliceRows) + 5;
  for (int i = 0; i < n; ++i) {
    batch.push_back(record("p" + std::to_string(i), i, "corp", "relay-1", v1::SMTP_COMMAND_RCPT,
                           v1::VERDICT_CONTINUE));
  }
  ASSERT_EQ(audit_.append_batch(batch).value(), static_cast<std::size_t>(n));
  EXPECT_EQ(audit_.prune_before(n - 2).value(), n - 2);
  EXPECT_EQ(query_ids({}),
            (std::vector<std::string>{"p" + std::to_string(n - 1), "p" + std::to_string(n - 2)}));
}

TEST(AuditAttributesTest, SecretAttributesAreRecognised) {
  EXPECT_TRUE(is_secret_attribute("authentication.subject.password"));
  EXPECT_TRUE(is_secret_attribute("Authentication.Subject.PASSWORD"));
  EXPECT_TRUE(is_secret_attribute("upstream.password"));
  EXPECT_TRUE(is_secret_attribute("password"));
  EXPECT_FALSE(is_secret_attribute("authentication.subject.id"));
  EXPECT_FALSE(is_secret_attribute("authentication.subject.password_hint"));
  EXPECT_FALSE(is_secret_attribute("passwords"));
  EXPECT_FALSE(is_secret_attribute(""));
}

TEST(AuditAttributesTest, JsonIsSortedAndInvalidUtf8DoesNotThrow) {
  google::protobuf::Map<std::string, std::string> attributes;
  attributes["b"] = "2";
  attributes["a"] = "1";
  attributes["authentication.subject.password"] = "hunter2";
  EXPECT_EQ(audit_attributes_json(attributes), R"({"a":"1","b":"2"})");
  attributes["bad"] = std::string("\xff\xfe", 2);
  EXPECT_EQ(audit_attributes_json(attributes),
            "{\"a\":\"1\",\"b\":\"2\",\"bad\":\"\xEF\xBF\xBD\xEF\xBF\xBD\"}");
}

TEST_F(AuditRepositoryTest, PasswordNeverReachesTheDatabaseFile) {
  constexpr std::string_view kPassword = "Zq7-unique-audit-password-9xK";
  constexpr std::string_view kMarker = "marker-sender-5Tq@example.net";
  v1::AuditRecord r =
      record("auth-1", 1000, "corp", "relay-1", v1::SMTP_COMMAND_AUTH, v1::VERDICT_REJECT);
  (*r.mutable_attributes())["authentication.subject.id"] = "alice";
  (*r.mutable_attributes())["authentication.subject.password"] = std::string(kPassword);
  (*r.mutable_attributes())["AUTHENTICATION.SUBJECT.PASSWORD"] = std::string(kPassword);
  (*r.mutable_attributes())["smtp.mail.from"] = std::string(kMarker);
  ASSERT_TRUE(audit_.append_batch({&r, 1}));

  auto got = audit_.query({});
  ASSERT_EQ(got.value().size(), 1u);
  EXPECT_EQ(got.value()[0].record.attributes().count("authentication.subject.password"), 0u);
  EXPECT_EQ(got.value()[0].record.attributes().at("authentication.subject.id"), "alice");

  // Every file SQLite writes: the database and, in WAL mode, the log and its index.
  std::string bytes;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    bytes += read_file(dir_.file(std::string("gw.db") + suffix));
  }
  ASSERT_NE(bytes.find(kMarker), std::string::npos) << "the check must see the written record";
  EXPECT_EQ(bytes.find(kPassword), std::string::npos) << "the password reached the file";
}

// The hot path of the audit writer: batches of 500 like a busy node's. Prints the figure;
// in an optimised build without sanitizers it fails below the issue's target (20,000
// rows/s on the 2-core reference machine; measured 44,000-88,000 there under load).
TEST_F(AuditRepositoryTest, BatchThroughput) {
  constexpr int kBatches = 200;
  constexpr int kBatchSize = 500;
  std::vector<std::vector<v1::AuditRecord>> batches(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    batches[b].reserve(kBatchSize);
    for (int i = 0; i < kBatchSize; ++i) {
      v1::AuditRecord r =
          record("0190c6e2-7a4b-7c1d-8e2f-" + std::to_string(1'000'000'000 + b * kBatchSize + i),
                 1'700'000'000'000 + b * kBatchSize + i, i % 2 ? "corp" : "edge", "relay-1",
                 v1::SMTP_COMMAND_RCPT, v1::VERDICT_CONTINUE);
      auto& a = *r.mutable_attributes();
      a["smtp.rcpt.to"] = "user" + std::to_string(i) + "@example.com";
      a["smtp.helo.domain"] = "client.example.org";
      a["message.protocol.type"] = "ESMTP";
      a["monitoring.enabled"] = "false";
      batches[b].push_back(std::move(r));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : batches) {
    auto appended = audit_.append_batch(batch);
    ASSERT_TRUE(appended) << appended.error().message;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rows_per_second = kBatches * kBatchSize / seconds;
  std::cout << "audit append_batch: " << kBatches * kBatchSize << " rows in " << seconds
            << " s = " << static_cast<long>(rows_per_second) << " rows/s (batches of " << kBatchSize
            << ")\n";
  RecordProperty("audit_rows_per_second", static_cast<int>(rows_per_second));
  v1::AuditQuery q;
  q.set_limit(AuditRepository::kMaxLimit);
  EXPECT_EQ(audit_.query(q).value().size(), AuditRepository::kMaxLimit);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  EXPECT_GE(rows_per_second, 20000.0);
#endif
}

}  // namespace
}  // namespace gw::storage

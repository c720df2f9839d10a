// The background audit writer: decisions queue their records, one thread writes them to
// SQLite in batches and hands them to followers (`gctl audit --follow`). Issue 4 "Audit".
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/v1/policy.pb.h"
#include "storage/audit_repository.h"
#include "storage/database.h"

namespace gw::controlplane {

/// Receives the records of each written batch (`gctl audit --follow`). Called on the writer
/// thread after the batch is durable: must return quickly and never block.
class AuditFollower {
 public:
  virtual ~AuditFollower() = default;
  virtual void on_records(const std::vector<gateway::v1::AuditRecord>& records) = 0;
  /// The writer is stopping: no more records will come.
  virtual void on_writer_stopped() = 0;
};

/// True if `record` passes `query`'s filters (since_ms, service, node_id, command, verdict;
/// the limit is not a filter), as storage::AuditRepository::query applies them.
bool audit_matches(const gateway::v1::AuditRecord& record, const gateway::v1::AuditQuery& query);

/// Writes audit records on a thread of its own, through a SQLite connection of its own (WAL
/// lets the admin connection read meanwhile), so the decision path never waits for the disk:
/// submit() only appends to a bounded queue. The thread writes whenever kBatchRows records
/// are waiting or kFlushInterval has passed since the first waiting one, one transaction
/// per batch; a failed batch is retried (append_batch skips decision ids already stored).
/// The thread runs at nice +kThreadNice: its work may wait (records wait up to
/// kFlushInterval anyway), and a gRPC thread woken with a decision to answer then gets the
/// CPU at once instead of waiting for the writer's time slice (measured at 5,000
/// decisions/s on 2 vCPUs: p90 1.35 ms → 0.46 ms). Thread-safe.
class AuditWriter {
 public:
  /// Records waiting beyond this are refused: submit() returns false and the caller must
  /// not apply the decision (DecisionGrpcService answers UNAVAILABLE, the node fails safe),
  /// so that every decision a node acts on is in the audit trail once the queue is written
  /// (stop() at an orderly exit; a crash loses at most kFlushInterval of records,
  /// controlplane/README.md "Crash window").
  static constexpr std::size_t kMaxQueued = 200000;
  /// Records per write transaction at most.
  static constexpr std::size_t kBatchRows = 2048;
  /// Longest a record waits before it is written (and reaches followers). Small
  /// batches cost the writer far more per row than large ones (wake-ups, statement and
  /// savepoint set-up, and a working set that other threads evicted in between): at 6,000
  /// records/s, 24-29 µs of writer CPU per row every 2 ms against 13-14 µs every 20 ms
  /// (gw-audit-writer-bench --rate, session 13), and with handlers on HELO, MAIL and RCPT
  /// the writer was the largest single cost of a handled relay (tests/bench/README.md).
  /// Longer intervals used to lengthen the writer's bursts and with them the decision p99
  /// (session 7: 50 ms 2.7-2.9 ms, 10 ms 1.3-1.6 ms, 2 ms 0.57-0.87 ms at 5,000/s); the
  /// writer now gives way every kYieldRows rows instead (sched_yield), so its bursts stay
  /// short while its batches are large.
  static constexpr std::chrono::milliseconds kFlushInterval{20};
  /// Rows inserted between two sched_yield() calls of the writer: a gRPC thread with a
  /// decision to answer waits for at most this many inserts (about 0.2 ms on 2 vCPUs), not
  /// for a whole batch. Yielding costs nothing when nothing else waits for the CPU.
  static constexpr std::size_t kYieldRows = 16;
  /// Nice value of the writer thread (Linux: per thread), above the process's own.
  static constexpr int kThreadNice = 10;

  /// How often records older than the retention are deleted.
  static constexpr std::chrono::minutes kPruneInterval{10};

  /// Opens a second connection to `db_path` (migrations already applied by the first) and
  /// starts the thread. Every kPruneInterval (and once at start) the thread deletes records
  /// older than `retention` (zero: never), in slices, between batches. Throws
  /// std::runtime_error when the database cannot be opened.
  explicit AuditWriter(const std::filesystem::path& db_path,
                       std::chrono::milliseconds retention = std::chrono::milliseconds::zero());
  AuditWriter(const AuditWriter&) = delete;
  AuditWriter& operator=(const AuditWriter&) = delete;
  /// stop().
  ~AuditWriter();

  /// Queues one record. False when the queue is full or the writer stopped.
  bool submit(gateway::v1::AuditRecord record);

  /// Writes everything queued, then stops the thread; later submit() calls return false.
  /// Followers get on_writer_stopped(). Idempotent; call from one thread.
  void stop();

  /// Registers / removes a follower (held weakly; a follower that went away is forgotten).
  void follow(const std::shared_ptr<AuditFollower>& follower);
  void unfollow(const AuditFollower* follower);

  /// Records written so far (tests, metrics).
  std::uint64_t written() const;
  /// Records queued and not yet written (metrics).
  std::size_t queued() const;
  /// Blocks until every record submitted before the call is written (tests, shutdown).
  void flush();
  /// flush(), waiting at most `max_wait` (milliseconds::max(): no bound); false if the
  /// records were not all written by then (the database busy, the writer retrying). Used
  /// before answering `gctl audit`, so a decision a client was just told about is listed
  /// although its batch was not due yet (probe round 28).
  bool flush_for(std::chrono::milliseconds max_wait);

 private:
  void run();
  /// Writes `batch` in one transaction, kYieldRows at a time with a sched_yield() between
  /// them. False (logged, nothing of `batch` kept) when a step failed.
  bool append_yielding(const std::vector<gateway::v1::AuditRecord>& batch);
  /// Writes `batch` in a transaction of its own, retrying (records are never dropped),
  /// then publish()es it.
  void write(std::vector<gateway::v1::AuditRecord>& batch);
  /// Counts durable records as written and hands them to the followers.
  void publish(const std::vector<gateway::v1::AuditRecord>& batch);
  /// Deletes records past the retention when kPruneInterval has passed since the last time.
  void prune_if_due();

  storage::Database db_;
  storage::AuditRepository repository_;
  const std::chrono::milliseconds retention_;
  std::chrono::steady_clock::time_point next_prune_{};  // writer thread only
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable written_cv_;
  std::deque<gateway::v1::AuditRecord> queue_;
  std::uint64_t submitted_ = 0;
  std::uint64_t written_ = 0;
  bool stopping_ = false;
  bool flush_asked_ = false;  // flush() waits: commit what is inserted now
  bool finished_ = false;     // the thread has ended
  std::vector<std::weak_ptr<AuditFollower>> followers_;
  std::thread thread_;
};

}  // namespace gw::controlplane

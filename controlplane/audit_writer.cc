// The audit writer thread.
#include "controlplane/audit_writer.h"

#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <span>
#include <cerrno>
#include <cstring>

namespace gw::controlplane {

namespace v1 = gateway::v1;

bool audit_matches(const v1::AuditRecord& record, const v1::AuditQuery& query) {
  if (query.since_ms() > 0 && record.time_ms() < query.since_ms()) return false;
  if (!query.service().empty() && record.service() != query.service()) return false;
  if (!query.node_id().empty() && record.node_id() != query.node_id()) return false;
  if (query.command() != v1::SMTP_COMMAND_UNSPECIFIED && record.command() != query.command()) {
    return false;
  }
  if (query.verdict() != v1::VERDICT_UNSPECIFIED && record.verdict() != query.verdict()) {
    return false;
  }
  return true;
}

AuditWriter::AuditWriter(const std::filesystem::path& db_path,
                         std::chrono::milliseconds retention)
    : db_(storage::Database::open(db_path)),
      repository_(db_),
      retention_(retention),
      thread_([this] { run(); }) {}

void AuditWriter::prune_if_due() {
  if (retention_ <= std::chrono::milliseconds::zero()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_prune_) return;
  next_prune_ = now + kPruneInterval;
  const auto wall_now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  auto pruned = repository_.prune_before((wall_now - retention_).count());
  if (!pruned) {
    spdlog::warn("audit: retention pruning failed: {}", pruned.error().message);
  } else if (pruned.value() > 0) {
    spdlog::info("audit: {} record(s) older than {} days deleted", pruned.value(),
                 std::chrono::duration_cast<std::chrono::hours>(retention_).count() / 24);
  }
}

AuditWriter::~AuditWriter() { stop(); }

bool AuditWriter::submit(v1::AuditRecord record) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(std::move(record));
    ++submitted_;
    // Wake the writer for the first record (it then waits up to kFlushInterval for more)
    // and when a batch is full; in between it is already awake.
    if (queue_.size() != 1 && queue_.size() < kBatchRows) return true;
  }
  wake_.notify_one();
  return true;
}

void AuditWriter::stop() {
  std::vector<std::shared_ptr<AuditFollower>> followers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (!thread_.joinable()) return;  // stopped before
  thread_.join();
  {
    std::lock_guard lock(mu_);
    for (auto& weak : followers_) {
      if (auto f = weak.lock()) followers.push_back(std::move(f));
    }
    followers_.clear();
  }
  for (auto& f : followers) f->on_writer_stopped();
}

void AuditWriter::follow(const std::shared_ptr<AuditFollower>& follower) {
  std::lock_guard lock(mu_);
  followers_.push_back(follower);
}

void AuditWriter::unfollow(const AuditFollower* follower) {
  std::lock_guard lock(mu_);
  std::erase_if(followers_, [follower](const std::weak_ptr<AuditFollower>& weak) {
    auto f = weak.lock();
    return !f || f.get() == follower;
  });
}

std::uint64_t AuditWriter::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

std::size_t AuditWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void AuditWriter::flush() { flush_for(std::chrono::milliseconds::max()); }

bool AuditWriter::flush_for(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mu_);
  const std::uint64_t target = submitted_;
  auto done = [&] { return written_ >= target || finished_; };
  if (done()) return true;
  flush_asked_ = true;
  wake_.notify_one();
  if (max_wait == std::chrono::milliseconds::max()) {
    written_cv_.wait(lock, done);
    return true;
  }
  return written_cv_.wait_for(lock, max_wait, done);
}

void AuditWriter::run() {
  // Linux applies nice per thread: this lowers the writer alone. Failure (an unusual
  // RLIMIT_NICE, a non-Linux kernel) only costs latency, so it is logged and ignored.
  errno = 0;
  const int nice_now = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  if (errno != 0 ||
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_now + kThreadNice) != 0) {
    spdlog::debug("audit: cannot lower the writer thread's priority: {}", std::strerror(errno));
  }
  using Clock = std::chrono::steady_clock;
  std::vector<v1::AuditRecord> batch;
  std::deque<v1::AuditRecord> taken;
  for (;;) {
    // The last batch's records are destroyed here, before the lock is taken: destroying
    // them (every attribute map, some 20 frees a record) under mu_ made submit() on a gRPC
    // thread wait for this low-priority thread, and for as long as it was preempted
    // (a priority inversion: the decision p99 at 5,000/s, session 23).
    batch.clear();
    prune_if_due();
    {
      std::unique_lock lock(mu_);
      auto ready = [this] { return stopping_ || flush_asked_ || !queue_.empty(); };
      // Wake at least every prune interval, so retention runs on an idle control plane.
      wake_.wait_until(lock, Clock::now() + kPruneInterval, ready);
      // Give the batch time to fill unless it is full already (or we are draining).
      if (!queue_.empty() && !stopping_ && !flush_asked_ && queue_.size() < kBatchRows) {
        wake_.wait_until(lock, Clock::now() + kFlushInterval, [this] {
          return stopping_ || flush_asked_ || queue_.size() >= kBatchRows;
        });
      }
      // Under the lock only what costs no allocation: the whole queue changes hands when
      // it fits in a batch (the usual case), else the batch's records are moved out.
      if (queue_.size() <= kBatchRows) {
        taken.swap(queue_);
      } else {
        for (std::size_t k = 0; k < kBatchRows; ++k) {
          taken.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      flush_asked_ = false;
      if (taken.empty() && stopping_ && queue_.empty()) {
        finished_ = true;
        written_cv_.notify_all();
        return;
      }
    }
    batch.reserve(taken.size());
    for (auto& record : taken) batch.push_back(std::move(record));
    taken.clear();
    write(batch);
  }
}

bool AuditWriter::append_yielding(const std::vector<v1::AuditRecord>& batch) {
  auto tx = storage::Transaction::begin(db_);
  if (!tx) {
    spdlog::error("audit: cannot begin a transaction: {}", tx.error().message);
    return false;
  }
  const std::span<const v1::AuditRecord> all(batch);
  for (std::size_t offset = 0; offset < all.size(); offset += kYieldRows) {
    if (offset > 0) sched_yield();
    const std::size_t n = std::min(kYieldRows, all.size() - offset);
    if (auto appended = repository_.append_in_transaction(all.subspan(offset, n)); !appended) {
      spdlog::error("audit: writing {} record(s) failed: {}", n, appended.error().message);
      return false;  // `tx` rolls back what this batch inserted so far
    }
  }
  if (auto committed = tx.value().commit(); !committed) {
    spdlog::error("audit: committing {} record(s) failed: {}", batch.size(),
                  committed.error().message);
    return false;
  }
  return true;
}

void AuditWriter::write(std::vector<v1::AuditRecord>& batch) {
  if (batch.empty()) return;
  // The disk may be busy (a long admin transaction, a checkpoint): retry with a growing
  // pause. Records are never dropped while gctld runs; the queue bound pushes back on the
  // decisions instead. Once it is stopping, 20 more attempts (about 15 s) are made, counted
  // from the stop: a batch that had been retried for minutes before the SIGTERM still gets
  // them (probe round 28 lost such a batch at the first retry after the stop).
  std::chrono::milliseconds pause{10};
  int attempts_since_stop = 0;
  while (!append_yielding(batch)) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds{1000});
    std::lock_guard lock(mu_);
    if (stopping_ && ++attempts_since_stop >= 20) {
      spdlog::error("audit: giving up on {} record(s) at shutdown", batch.size());
      break;
    }
  }
  publish(batch);
}

void AuditWriter::publish(const std::vector<v1::AuditRecord>& batch) {
  std::vector<std::shared_ptr<AuditFollower>> followers;
  {
    std::lock_guard lock(mu_);
    written_ += batch.size();
    for (auto& weak : followers_) {
      if (auto f = weak.lock()) followers.push_back(std::move(f));
    }
  }
  written_cv_.notify_all();
  for (auto& f : followers) f->on_records(batch);
}

}  // namespace gw::controlplane

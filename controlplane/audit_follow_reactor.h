// One PolicyAdminService.FollowAudit stream (`gctl audit --follow`).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include "controlplane/audit_writer.h"
#include "gateway/v1/policy.pb.h"

namespace gw::controlplane {

/// Streams every record the audit writer writes from now on that matches the query, oldest
/// first, one write in flight at a time. A follower that cannot keep up (more than
/// kMaxPending records waiting) is ended with RESOURCE_EXHAUSTED rather than allowed to
/// grow without bound; gctl then says so. Ends with UNAVAILABLE when the writer stops.
///
/// Lifetime: owns itself (self_) from start() until OnDone(); the writer holds it weakly.
class AuditFollowReactor final : public grpc::ServerWriteReactor<gateway::v1::AuditRecord>,
                                 public AuditFollower {
 public:
  static constexpr std::size_t kMaxPending = 100000;

  /// Creates, registers with `writer` and returns the reactor to hand to gRPC.
  static grpc::ServerWriteReactor<gateway::v1::AuditRecord>* start(
      AuditWriter& writer, gateway::v1::AuditQuery query);

  void on_records(const std::vector<gateway::v1::AuditRecord>& records) override;
  void on_writer_stopped() override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  AuditFollowReactor(AuditWriter& writer, gateway::v1::AuditQuery query)
      : writer_(writer), query_(std::move(query)) {}
  void request_finish(grpc::Status status);
  /// Under mu_ decides the next step (write or finish); performs it unlocked.
  void advance();

  AuditWriter& writer_;
  const gateway::v1::AuditQuery query_;
  std::mutex mu_;
  std::deque<gateway::v1::AuditRecord> pending_;
  gateway::v1::AuditRecord in_flight_;
  bool writing_ = false;
  bool finish_requested_ = false;
  bool finished_ = false;
  grpc::Status finish_status_;
  std::shared_ptr<AuditFollowReactor> self_;
};

}  // namespace gw::controlplane

// One PolicyAdminService.FollowAudit stream (`gctl audit --follow`).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include "controlplane/admin_gate.h"
#include "controlplane/audit_writer.h"
#include "controlplane/cq_reactor.h"
#include "gateway/v1/policy.grpc.pb.h"

namespace gw::controlplane {

/// Streams every record the audit writer writes from now on that matches the query, oldest
/// first, one write in flight at a time. A follower that cannot keep up (more than
/// kMaxPending records waiting) is ended with RESOURCE_EXHAUSTED rather than allowed to
/// grow without bound; gctl then says so. Ends with UNAVAILABLE when the writer stops.
///
/// Lifetime: owns itself (self_) from accept() until OnDone(); the writer holds it weakly.
class AuditFollowReactor final : public CqWriteReactor<gateway::v1::AuditRecord>,
                                 public AuditFollower {
 public:
  static constexpr std::size_t kMaxPending = 100000;
  using Service = gateway::v1::PolicyAdminService::WithAsyncMethod_FollowAudit<
      gateway::v1::PolicyAdminService::Service>;

  /// Creates a call object for the next FollowAudit and requests it from `service`; the
  /// object accepts the following one itself once accepted. A call without the admin token
  /// `gate` asks for ends at once with UNAUTHENTICATED.
  static void accept(Service& service, CqServerQueue& queue, AuditWriter& writer,
                     const AdminGate& gate);

  void on_records(const std::vector<gateway::v1::AuditRecord>& records) override;
  void on_writer_stopped() override;
  void OnStart() override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  AuditFollowReactor(CqServerQueue& queue, AuditWriter& writer, const AdminGate& gate)
      : CqWriteReactor(queue), writer_(writer), gate_(gate) {}
  void request_finish(grpc::Status status);
  /// Under mu_ decides the next step (write or finish); performs it unlocked.
  void advance();

  AuditWriter& writer_;
  const AdminGate& gate_;
  gateway::v1::AuditQuery query_;  // the request; constant once the writer knows the stream
  std::mutex mu_;
  std::deque<gateway::v1::AuditRecord> pending_;
  gateway::v1::AuditRecord in_flight_;
  bool writing_ = false;
  bool finish_requested_ = false;
  bool drain_before_finish_ = false;  // on_writer_stopped: send what is pending first
  bool finished_ = false;
  grpc::Status finish_status_;
  std::shared_ptr<AuditFollowReactor> self_;
};

}  // namespace gw::controlplane

// The FollowAudit stream.
#include "controlplane/audit_follow_reactor.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

void AuditFollowReactor::accept(Service& service, CqServerQueue& queue, AuditWriter& writer,
                                const AdminGate& gate) {
  std::shared_ptr<AuditFollowReactor> reactor(new AuditFollowReactor(queue, writer, gate));
  reactor->self_ = reactor;
  void* tag = reactor->arm(
      [&service, &queue, &writer, &gate] { accept(service, queue, writer, gate); });
  service.RequestFollowAudit(reactor->context(), &reactor->query_, reactor->stream(), queue.cq(),
                             queue.cq(), tag);
}

void AuditFollowReactor::OnStart() {
  if (auto refused = gate_.refuse(*context(), "FollowAudit")) {
    request_finish(std::move(*refused));
    return;
  }
  // Headers now, so the client knows the stream is open before the first record. They
  // count as the write in flight: records wait for them.
  {
    std::lock_guard lock(mu_);
    writing_ = true;
  }
  StartSendInitialMetadata();
  writer_.follow(self_);
}

void AuditFollowReactor::on_records(const std::vector<v1::AuditRecord>& records) {
  {
    std::lock_guard lock(mu_);
    if (finish_requested_) return;
    for (const v1::AuditRecord& r : records) {
      if (audit_matches(r, query_)) pending_.push_back(r);
    }
    if (pending_.size() > kMaxPending) {
      pending_.clear();
      finish_requested_ = true;
      finish_status_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    "the follower fell too far behind the audit trail");
    }
  }
  advance();
}

void AuditFollowReactor::on_writer_stopped() {
  // The writer's last batch (decisions answered just before the stop) was handed over a
  // moment ago: it is sent before the stream ends (probe round 28 lost it in 3 of 6 runs).
  {
    std::lock_guard lock(mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    drain_before_finish_ = true;
    finish_status_ =
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "control plane is shutting down");
  }
  advance();
}

void AuditFollowReactor::OnWriteDone(bool ok) {
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      drain_before_finish_ = false;  // nobody reads any more
      if (!finish_requested_) {
        finish_requested_ = true;
        finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
      }
    }
  }
  advance();
}

void AuditFollowReactor::OnCancel() {
  request_finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
}

void AuditFollowReactor::OnDone() {
  if (started()) writer_.unfollow(this);
  std::shared_ptr<AuditFollowReactor> keep;
  {
    std::lock_guard lock(mu_);
    keep = std::move(self_);
  }
}

void AuditFollowReactor::request_finish(grpc::Status status) {
  {
    std::lock_guard lock(mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    drain_before_finish_ = false;
    finish_status_ = std::move(status);
    pending_.clear();
  }
  advance();
}

void AuditFollowReactor::advance() {
  enum class Step { kNone, kWrite, kFinish } step = Step::kNone;
  grpc::Status status;
  {
    std::lock_guard lock(mu_);
    if (finished_ || writing_) return;
    if (finish_requested_ && !(drain_before_finish_ && !pending_.empty())) {
      finished_ = true;
      status = finish_status_;
      step = Step::kFinish;
    } else if (!pending_.empty()) {
      in_flight_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      step = Step::kWrite;
    }
  }
  if (step == Step::kWrite) StartWrite(&in_flight_);
  if (step == Step::kFinish) Finish(status);
}

}  // namespace gw::controlplane

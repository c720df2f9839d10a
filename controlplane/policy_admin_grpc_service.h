// gateway.v1.PolicyAdminService on gRPC's synchronous API (FollowAudit: completion queue):
// apply/export, policies, handlers, users and the audit trail (policy.proto; issue 4). Translation
// only.
#pragma once

#include "controlplane/audit_follow_reactor.h"
#include "controlplane/audit_writer.h"
#include "controlplane/config_store.h"
#include "controlplane/cq_server_queue.h"
#include "controlplane/db_worker.h"
#include "gateway/v1/policy.grpc.pb.h"
#include "storage/audit_repository.h"

namespace gw::controlplane {

/// The policy admin API used by gctl. Unary methods run on the DB thread (run_on_db);
/// FollowAudit streams from the audit writer. Users never come back with a password or a
/// hash, except in Export (hashes only, for `gctl apply` round trips). The references must
/// outlive the gRPC server; `audit_repository` uses the DB thread's connection.
class PolicyAdminGrpcService final : public AuditFollowReactor::Service {
 public:
  /// Every call is first checked against `gate` (the admin token; UNAUTHENTICATED).
  PolicyAdminGrpcService(ConfigStore& store, storage::AuditRepository& audit_repository,
                         AuditWriter& audit_writer, DbWorker& worker, const AdminGate& gate)
      : store_(store),
        audit_(audit_repository),
        writer_(audit_writer),
        worker_(worker),
        gate_(gate) {}

  grpc::Status Apply(grpc::ServerContext* ctx, const gateway::v1::ApplyRequest* request,
                     gateway::v1::ApplyResponse* response) override;
  grpc::Status Export(grpc::ServerContext* ctx, const gateway::v1::ExportRequest* request,
                      gateway::v1::ExportResponse* response) override;
  grpc::Status ListPolicies(grpc::ServerContext* ctx,
                            const gateway::v1::ListPoliciesRequest* request,
                            gateway::v1::ListPoliciesResponse* response) override;
  grpc::Status GetPolicy(grpc::ServerContext* ctx, const gateway::v1::GetPolicyRequest* request,
                         gateway::v1::Policy* response) override;
  grpc::Status DeletePolicy(grpc::ServerContext* ctx,
                            const gateway::v1::DeletePolicyRequest* request,
                            gateway::v1::DeletePolicyResponse* response) override;
  grpc::Status CreateHandler(grpc::ServerContext* ctx,
                             const gateway::v1::CreateHandlerRequest* request,
                             gateway::v1::Handler* response) override;
  grpc::Status ListHandlers(grpc::ServerContext* ctx,
                            const gateway::v1::ListHandlersRequest* request,
                            gateway::v1::ListHandlersResponse* response) override;
  grpc::Status DeleteHandler(grpc::ServerContext* ctx,
                             const gateway::v1::DeleteHandlerRequest* request,
                             gateway::v1::DeleteHandlerResponse* response) override;
  grpc::Status CreateUser(grpc::ServerContext* ctx, const gateway::v1::CreateUserRequest* request,
                          gateway::v1::User* response) override;
  grpc::Status SetUserPassword(grpc::ServerContext* ctx,
                               const gateway::v1::SetUserPasswordRequest* request,
                               gateway::v1::User* response) override;
  grpc::Status ListUsers(grpc::ServerContext* ctx, const gateway::v1::ListUsersRequest* request,
                         gateway::v1::ListUsersResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* ctx, const gateway::v1::DeleteUserRequest* request,
                          gateway::v1::DeleteUserResponse* response) override;
  grpc::Status QueryAudit(grpc::ServerContext* ctx, const gateway::v1::AuditQuery* request,
                          gateway::v1::AuditQueryResponse* response) override;
  /// `gctl stats`: AuditRepository::stats() over the audit table, after the decisions
  /// already answered were written (as QueryAudit). until_ms is gctld's clock.
  grpc::Status GetStats(grpc::ServerContext* ctx, const gateway::v1::StatsRequest* request,
                        gateway::v1::StatsResponse* response) override;
  /// Starts accepting FollowAudit calls on `queue` (after the server was built); `queue`
  /// must outlive the server.
  void start(CqServerQueue& queue);

 private:
  ConfigStore& store_;
  storage::AuditRepository& audit_;
  AuditWriter& writer_;
  DbWorker& worker_;
  const AdminGate& gate_;
};

}  // namespace gw::controlplane

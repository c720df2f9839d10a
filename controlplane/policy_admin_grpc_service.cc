// PolicyAdminService: proto <-> ConfigStore / AuditRepository, on the DB thread.
#include "controlplane/policy_admin_grpc_service.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "controlplane/audit_follow_reactor.h"
#include "controlplane/db_call.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

namespace {

// Users leave this API without any secret, whatever the store returned.
v1::User public_user(v1::User user) {
  user.clear_password();
  user.clear_password_hash();
  return user;
}

grpc::Status status_of(const Result<void>& result) {
  return result ? grpc::Status::OK : to_grpc_status(result.error());
}

}  // namespace

grpc::Status PolicyAdminGrpcService::Apply(grpc::ServerContext* ctx,
                                           const v1::ApplyRequest* request,
                                           v1::ApplyResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "Apply")) return *refused;
  return run_on_db(worker_, "Apply", [this, request, response] {
    return deliver(store_.apply(request->document(), request->dry_run()), response);
  });
}

grpc::Status PolicyAdminGrpcService::Export(grpc::ServerContext* ctx, const v1::ExportRequest*,
                                            v1::ExportResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "Export")) return *refused;
  return run_on_db(worker_, "Export", [this, response] {
    auto document = store_.export_document();
    if (!document) return to_grpc_status(document.error());
    *response->mutable_document() = std::move(document).value();
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::ListPolicies(grpc::ServerContext* ctx,
                                                  const v1::ListPoliciesRequest*,
                                                  v1::ListPoliciesResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListPolicies")) return *refused;
  return run_on_db(worker_, "ListPolicies", [this, response] {
    auto policies = store_.list_policies();
    if (!policies) return to_grpc_status(policies.error());
    for (v1::Policy& p : policies.value()) *response->add_policies() = std::move(p);
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::GetPolicy(grpc::ServerContext* ctx,
                                               const v1::GetPolicyRequest* request,
                                               v1::Policy* response) {
  if (auto refused = gate_.refuse(*ctx, "GetPolicy")) return *refused;
  return run_on_db(worker_, "GetPolicy", [this, request, response] {
    return deliver(store_.get_policy(request->name()), response);
  });
}

grpc::Status PolicyAdminGrpcService::DeletePolicy(grpc::ServerContext* ctx,
                                                  const v1::DeletePolicyRequest* request,
                                                  v1::DeletePolicyResponse*) {
  if (auto refused = gate_.refuse(*ctx, "DeletePolicy")) return *refused;
  return run_on_db(worker_, "DeletePolicy",
                   [this, request] { return status_of(store_.delete_policy(request->name())); });
}

grpc::Status PolicyAdminGrpcService::CreateHandler(grpc::ServerContext* ctx,
                                                   const v1::CreateHandlerRequest* request,
                                                   v1::Handler* response) {
  if (auto refused = gate_.refuse(*ctx, "CreateHandler")) return *refused;
  return run_on_db(worker_, "CreateHandler", [this, request, response] {
    return deliver(store_.create_handler(request->handler()), response);
  });
}

grpc::Status PolicyAdminGrpcService::ListHandlers(grpc::ServerContext* ctx,
                                                  const v1::ListHandlersRequest* request,
                                                  v1::ListHandlersResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListHandlers")) return *refused;
  return run_on_db(worker_, "ListHandlers", [this, request, response] {
    auto handlers = store_.list_handlers(request->service());
    if (!handlers) return to_grpc_status(handlers.error());
    for (v1::Handler& h : handlers.value()) *response->add_handlers() = std::move(h);
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::DeleteHandler(grpc::ServerContext* ctx,
                                                   const v1::DeleteHandlerRequest* request,
                                                   v1::DeleteHandlerResponse*) {
  if (auto refused = gate_.refuse(*ctx, "DeleteHandler")) return *refused;
  return run_on_db(worker_, "DeleteHandler",
                   [this, request] { return status_of(store_.delete_handler(request->id())); });
}

grpc::Status PolicyAdminGrpcService::CreateUser(grpc::ServerContext* ctx,
                                                const v1::CreateUserRequest* request,
                                                v1::User* response) {
  if (auto refused = gate_.refuse(*ctx, "CreateUser")) return *refused;
  return run_on_db(worker_, "CreateUser", [this, request, response] {
    auto created = store_.create_user(request->user());
    if (!created) return to_grpc_status(created.error());
    *response = public_user(std::move(created).value());
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::SetUserPassword(grpc::ServerContext* ctx,
                                                     const v1::SetUserPasswordRequest* request,
                                                     v1::User* response) {
  if (auto refused = gate_.refuse(*ctx, "SetUserPassword")) return *refused;
  return run_on_db(worker_, "SetUserPassword", [this, request, response] {
    auto updated = store_.set_user_password(request->name(), request->password());
    if (!updated) return to_grpc_status(updated.error());
    *response = public_user(std::move(updated).value());
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::ListUsers(grpc::ServerContext* ctx,
                                               const v1::ListUsersRequest*,
                                               v1::ListUsersResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListUsers")) return *refused;
  return run_on_db(worker_, "ListUsers", [this, response] {
    auto users = store_.list_users();
    if (!users) return to_grpc_status(users.error());
    for (v1::User& u : users.value()) *response->add_users() = public_user(std::move(u));
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::DeleteUser(grpc::ServerContext* ctx,
                                                const v1::DeleteUserRequest* request,
                                                v1::DeleteUserResponse*) {
  if (auto refused = gate_.refuse(*ctx, "DeleteUser")) return *refused;
  return run_on_db(worker_, "DeleteUser",
                   [this, request] { return status_of(store_.delete_user(request->name())); });
}

grpc::Status PolicyAdminGrpcService::QueryAudit(grpc::ServerContext* ctx,
                                                const v1::AuditQuery* request,
                                                v1::AuditQueryResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "QueryAudit")) return *refused;
  // A larger answer is refused rather than cut short without a word: the operator would
  // take the first 10,000 records for all there is.
  if (request->limit() > storage::AuditRepository::kMaxLimit) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "limit " + std::to_string(request->limit()) + " is above the maximum " +
                            std::to_string(storage::AuditRepository::kMaxLimit) +
                            " (narrow the query with since, service, node, command or verdict)");
  }
  // Decisions already answered are listed even if their batch was not due yet (it is
  // written now); a writer held up by a busy database delays the answer by 1 s at most.
  if (!writer_.flush_for(std::chrono::seconds(1))) {
    spdlog::warn("audit query: the audit writer is behind; recent decisions may be missing");
  }
  return run_on_db(worker_, "QueryAudit", [this, request, response] {
    auto entries = audit_.query(*request);
    if (!entries) return to_grpc_status(from_storage(entries.error()));
    for (storage::AuditEntry& e : entries.value()) {
      *response->add_records() = std::move(e.record);
    }
    return grpc::Status::OK;
  });
}

grpc::Status PolicyAdminGrpcService::GetStats(grpc::ServerContext* ctx,
                                              const v1::StatsRequest* request,
                                              v1::StatsResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "GetStats")) return *refused;
  if (!writer_.flush_for(std::chrono::seconds(1))) {
    spdlog::warn("stats: the audit writer is behind; recent decisions may be missing");
  }
  return run_on_db(worker_, "GetStats", [this, request, response] {
    response->set_since_ms(request->since_ms());
    response->set_until_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
    auto stats = audit_.stats(*request);
    if (!stats) return to_grpc_status(from_storage(stats.error()));
    for (v1::DecisionStats& d : stats.value()) *response->add_decisions() = std::move(d);
    return grpc::Status::OK;
  });
}

void PolicyAdminGrpcService::start(CqServerQueue& queue) {
  AuditFollowReactor::accept(*this, queue, writer_, gate_);
}

}  // namespace gw::controlplane

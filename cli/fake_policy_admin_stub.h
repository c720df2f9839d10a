// Test double for PolicyAdminService's synchronous stub: unary calls as FakeAdminStub
// (FakeCallRecorder); FollowAudit streams canned records, then ends with a canned status.
// gctl unit tests only.
#pragma once

#include <cstdlib>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>
#include <grpcpp/support/sync_stream.h>

#include "cli/fake_call_recorder.h"
#include "gateway/v1/policy.grpc.pb.h"

namespace gw::cli {

/// A finished server stream: hands out `records`, then Finish() returns `status`.
class FakeAuditReader final : public grpc::ClientReaderInterface<gateway::v1::AuditRecord> {
 public:
  FakeAuditReader(std::vector<gateway::v1::AuditRecord> records, grpc::Status status)
      : records_(records.begin(), records.end()), status_(std::move(status)) {}

  bool Read(gateway::v1::AuditRecord* record) override {
    if (records_.empty()) return false;
    *record = std::move(records_.front());
    records_.pop_front();
    return true;
  }
  bool NextMessageSize(uint32_t* size) override {
    *size = records_.empty() ? 0 : static_cast<uint32_t>(records_.front().ByteSizeLong());
    return !records_.empty();
  }
  grpc::Status Finish() override { return status_; }
  void WaitForInitialMetadata() override {}

 private:
  std::deque<gateway::v1::AuditRecord> records_;
  grpc::Status status_;
};

class FakePolicyAdminStub final : public gateway::v1::PolicyAdminService::StubInterface,
                                  public FakeCallRecorder {
 public:
  /// What the next FollowAudit streams, and how it ends.
  void follow_with(std::vector<gateway::v1::AuditRecord> records, grpc::Status end) {
    follow_records_ = std::move(records);
    follow_end_ = std::move(end);
  }
  /// Whether FollowAudit's context had a deadline (it must not).
  bool follow_had_deadline() const { return follow_had_deadline_; }

#define GW_FAKE_UNARY(Method, Request, Response)                                         \
  grpc::Status Method(grpc::ClientContext* context, const gateway::v1::Request& request, \
                      gateway::v1::Response* response) override {                        \
    return handle(#Method, *context, request, response);                                 \
  }
  GW_FAKE_UNARY(Apply, ApplyRequest, ApplyResponse)
  GW_FAKE_UNARY(Export, ExportRequest, ExportResponse)
  GW_FAKE_UNARY(ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
  GW_FAKE_UNARY(GetPolicy, GetPolicyRequest, Policy)
  GW_FAKE_UNARY(DeletePolicy, DeletePolicyRequest, DeletePolicyResponse)
  GW_FAKE_UNARY(CreateHandler, CreateHandlerRequest, Handler)
  GW_FAKE_UNARY(ListHandlers, ListHandlersRequest, ListHandlersResponse)
  GW_FAKE_UNARY(DeleteHandler, DeleteHandlerRequest, DeleteHandlerResponse)
  GW_FAKE_UNARY(CreateUser, CreateUserRequest, User)
  GW_FAKE_UNARY(SetUserPassword, SetUserPasswordRequest, User)
  GW_FAKE_UNARY(ListUsers, ListUsersRequest, ListUsersResponse)
  GW_FAKE_UNARY(DeleteUser, DeleteUserRequest, DeleteUserResponse)
  GW_FAKE_UNARY(QueryAudit, AuditQuery, AuditQueryResponse)
  GW_FAKE_UNARY(GetStats, StatsRequest, StatsResponse)
#undef GW_FAKE_UNARY

 private:
  grpc::ClientReaderInterface<gateway::v1::AuditRecord>* FollowAuditRaw(
      grpc::ClientContext* context, const gateway::v1::AuditQuery& request) override {
    handle("FollowAudit", *context, request, nullptr);
    follow_had_deadline_ = context->deadline() != std::chrono::system_clock::time_point::max();
    return new FakeAuditReader(follow_records_, follow_end_);
  }

  // gctl uses the synchronous API only; the asynchronous entry points are never reached.
#define GW_FAKE_ASYNC(Method, Request, Response)                                              \
  grpc::ClientAsyncResponseReaderInterface<gateway::v1::Response>* Async##Method##Raw(        \
      grpc::ClientContext*, const gateway::v1::Request&, grpc::CompletionQueue*) override {   \
    std::abort();                                                                             \
  }                                                                                           \
  grpc::ClientAsyncResponseReaderInterface<gateway::v1::Response>* PrepareAsync##Method##Raw( \
      grpc::ClientContext*, const gateway::v1::Request&, grpc::CompletionQueue*) override {   \
    std::abort();                                                                             \
  }
  GW_FAKE_ASYNC(Apply, ApplyRequest, ApplyResponse)
  GW_FAKE_ASYNC(Export, ExportRequest, ExportResponse)
  GW_FAKE_ASYNC(ListPolicies, ListPoliciesRequest, ListPoliciesResponse)
  GW_FAKE_ASYNC(GetPolicy, GetPolicyRequest, Policy)
  GW_FAKE_ASYNC(DeletePolicy, DeletePolicyRequest, DeletePolicyResponse)
  GW_FAKE_ASYNC(CreateHandler, CreateHandlerRequest, Handler)
  GW_FAKE_ASYNC(ListHandlers, ListHandlersRequest, ListHandlersResponse)
  GW_FAKE_ASYNC(DeleteHandler, DeleteHandlerRequest, DeleteHandlerResponse)
  GW_FAKE_ASYNC(CreateUser, CreateUserRequest, User)
  GW_FAKE_ASYNC(SetUserPassword, SetUserPasswordRequest, User)
  GW_FAKE_ASYNC(ListUsers, ListUsersRequest, ListUsersResponse)
  GW_FAKE_ASYNC(DeleteUser, DeleteUserRequest, DeleteUserResponse)
  GW_FAKE_ASYNC(QueryAudit, AuditQuery, AuditQueryResponse)
  GW_FAKE_ASYNC(GetStats, StatsRequest, StatsResponse)
#undef GW_FAKE_ASYNC

  grpc::ClientAsyncReaderInterface<gateway::v1::AuditRecord>* AsyncFollowAuditRaw(
      grpc::ClientContext*, const gateway::v1::AuditQuery&, grpc::CompletionQueue*,
      void*) override {
    std::abort();
  }
  grpc::ClientAsyncReaderInterface<gateway::v1::AuditRecord>* PrepareAsyncFollowAuditRaw(
      grpc::ClientContext*, const gateway::v1::AuditQuery&, grpc::CompletionQueue*) override {
    std::abort();
  }

  std::vector<gateway::v1::AuditRecord> follow_records_;
  grpc::Status follow_end_;
  bool follow_had_deadline_ = true;
};

}  // namespace gw::cli

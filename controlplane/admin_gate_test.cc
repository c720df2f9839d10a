// The admin token (DESIGN.md §8): a real ControlPlane that asks gctl's calls for it and
// lets relay nodes through without it.
#include "controlplane/admin_gate.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>

#include "controlplane/control_plane.h"
#include "gateway/v1/admin.grpc.pb.h"
#include "gateway/v1/decision.grpc.pb.h"
#include "gateway/v1/node.grpc.pb.h"
#include "gateway/v1/policy.grpc.pb.h"
#include "storage/test_temp_dir.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;

constexpr std::string_view kToken = "s3cret-admin-token-0123456789";

TEST(AdminGate, TokensAreVisibleAsciiOfBoundedLength) {
  EXPECT_FALSE(AdminGate().enabled());
  EXPECT_TRUE(AdminGate(kToken).enabled());
  EXPECT_THROW(AdminGate("short"), std::invalid_argument);
  EXPECT_THROW(AdminGate(std::string(AdminGate::kMaxTokenLength + 1, 'a')), std::invalid_argument);
  EXPECT_THROW(AdminGate("0123456789abcdef ghi"), std::invalid_argument);
  EXPECT_THROW(AdminGate("0123456789abcdef\x01gh"), std::invalid_argument);
  EXPECT_THROW(AdminGate("0123456789abcdef\xc3\xa9"), std::invalid_argument);
  try {
    AdminGate("0123456789abcdef\nsecret-part");
    ADD_FAILURE() << "a line break was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("secret-part"), std::string::npos) << e.what();
  }
}

TEST(AdminGate, FileEndsMayHaveALineBreak) {
  storage::TestTempDir dir;
  const auto path = dir.file("token");
  std::ofstream(path) << kToken << "\r\n";
  EXPECT_TRUE(AdminGate::from_file(path).enabled());
  std::ofstream(path) << "";
  EXPECT_THROW(AdminGate::from_file(path), std::invalid_argument);
  EXPECT_THROW(AdminGate::from_file(dir.file("missing")), std::runtime_error);
}

class AdminGateGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ControlPlaneOptions options{"127.0.0.1:0", dir_.file("gw.db")};
    options.admin_gate = AdminGate(kToken);
    plane_ = std::make_unique<ControlPlane>(options);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(plane_->port()),
                                   grpc::InsecureChannelCredentials());
    admin_ = v1::AdminService::NewStub(channel_);
    policy_ = v1::PolicyAdminService::NewStub(channel_);
  }

  // A context with a deadline and, unless empty, this `authorization` value.
 public:
  static void prepare(grpc::ClientContext& ctx, const std::string& authorization) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  }

  grpc::Status list_services(const std::string& authorization) {
    grpc::ClientContext ctx;
    prepare(ctx, authorization);
    v1::ListServicesResponse response;
    return admin_->ListServices(&ctx, v1::ListServicesRequest(), &response);
  }

  grpc::Status list_policies(const std::string& authorization) {
    grpc::ClientContext ctx;
    prepare(ctx, authorization);
    v1::ListPoliciesResponse response;
    return policy_->ListPolicies(&ctx, v1::ListPoliciesRequest(), &response);
  }

 protected:
  storage::TestTempDir dir_;
  std::unique_ptr<ControlPlane> plane_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::PolicyAdminService::Stub> policy_;
};

TEST_F(AdminGateGrpcTest, AdminCallsNeedTheToken) {
  const std::string right = "Bearer " + std::string(kToken);
  for (auto call : {&AdminGateGrpcTest::list_services, &AdminGateGrpcTest::list_policies}) {
    grpc::Status status = (this->*call)("");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), "admin token required (gctl --token-file)");
    status = (this->*call)("Bearer wrong-token-0123456789");
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), "admin token refused");
    // The token itself without the scheme, a prefix of it, another scheme: refused.
    EXPECT_EQ((this->*call)(std::string(kToken)).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ((this->*call)(right.substr(0, right.size() - 1)).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ((this->*call)("Basic " + std::string(kToken)).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE((this->*call)(right).ok());
    EXPECT_TRUE((this->*call)("bearer " + std::string(kToken)).ok());  // scheme: any case
  }
  // A refused call changed nothing.
  grpc::ClientContext ctx;
  prepare(ctx, "");
  v1::CreateServiceRequest create;
  create.mutable_service()->set_name("corp");
  create.mutable_service()->set_host("127.0.0.1");
  create.mutable_service()->set_port(25);
  v1::Service created;
  EXPECT_EQ(admin_->CreateService(&ctx, create, &created).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext ctx2;
  prepare(ctx2, right);
  v1::ListServicesResponse services;
  ASSERT_TRUE(admin_->ListServices(&ctx2, v1::ListServicesRequest(), &services).ok());
  EXPECT_EQ(services.services_size(), 0);
}

TEST_F(AdminGateGrpcTest, FollowingTheAuditTrailNeedsTheToken) {
  {
    grpc::ClientContext ctx;
    prepare(ctx, "");
    auto reader = policy_->FollowAudit(&ctx, v1::AuditQuery());
    v1::AuditRecord record;
    EXPECT_FALSE(reader->Read(&record));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {  // With the token the stream stays open until the deadline.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    ctx.AddMetadata("authorization", "Bearer " + std::string(kToken));
    auto reader = policy_->FollowAudit(&ctx, v1::AuditQuery());
    v1::AuditRecord record;
    EXPECT_FALSE(reader->Read(&record));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
}

TEST_F(AdminGateGrpcTest, RelayNodesAreNotAskedForIt) {
  auto node = v1::NodeService::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, "");
  v1::RegisterNodeRequest request;
  request.set_node_id("relay-1");
  request.set_instance("default");
  v1::RegisterNodeResponse response;
  EXPECT_TRUE(node->Register(&ctx, request, &response).ok());
}

}  // namespace
}  // namespace gw::controlplane

// gateway.v1.AdminService on gRPC's synchronous API: translates requests to ConfigStore /
// NodeDirectory calls on the DB thread and results back to responses, nothing else.
#pragma once

#include "controlplane/admin_gate.h"
#include "controlplane/config_store.h"
#include "controlplane/db_worker.h"
#include "controlplane/node_directory.h"
#include "gateway/v1/admin.grpc.pb.h"

namespace gw::controlplane {

/// The admin API used by gctl (admin.proto). Every method runs its work on the DB thread
/// (run_on_db) while the gRPC thread waits. Certificate answers are stripped of key_pem here as
/// well as in ConfigStore: a private key never leaves through this API. The references must outlive
/// the gRPC server.
class AdminGrpcService final : public gateway::v1::AdminService::Service {
 public:
  /// Every call is first checked against `gate` (the admin token; UNAUTHENTICATED).
  AdminGrpcService(ConfigStore& store, NodeDirectory& nodes, DbWorker& worker,
                   const AdminGate& gate)
      : store_(store), nodes_(nodes), worker_(worker), gate_(gate) {}

  grpc::Status CreateService(grpc::ServerContext* ctx,
                             const gateway::v1::CreateServiceRequest* request,
                             gateway::v1::Service* response) override;
  grpc::Status GetService(grpc::ServerContext* ctx, const gateway::v1::GetServiceRequest* request,
                          gateway::v1::Service* response) override;
  grpc::Status ListServices(grpc::ServerContext* ctx,
                            const gateway::v1::ListServicesRequest* request,
                            gateway::v1::ListServicesResponse* response) override;
  grpc::Status UpdateService(grpc::ServerContext* ctx,
                             const gateway::v1::UpdateServiceRequest* request,
                             gateway::v1::Service* response) override;
  grpc::Status DeleteService(grpc::ServerContext* ctx,
                             const gateway::v1::DeleteServiceRequest* request,
                             gateway::v1::DeleteServiceResponse* response) override;
  grpc::Status CreateInterface(grpc::ServerContext* ctx,
                               const gateway::v1::CreateInterfaceRequest* request,
                               gateway::v1::Interface* response) override;
  grpc::Status ListInterfaces(grpc::ServerContext* ctx,
                              const gateway::v1::ListInterfacesRequest* request,
                              gateway::v1::ListInterfacesResponse* response) override;
  grpc::Status DeleteInterface(grpc::ServerContext* ctx,
                               const gateway::v1::DeleteInterfaceRequest* request,
                               gateway::v1::DeleteInterfaceResponse* response) override;
  grpc::Status CreateCertificate(grpc::ServerContext* ctx,
                                 const gateway::v1::CreateCertificateRequest* request,
                                 gateway::v1::Certificate* response) override;
  grpc::Status GetCertificate(grpc::ServerContext* ctx,
                              const gateway::v1::GetCertificateRequest* request,
                              gateway::v1::Certificate* response) override;
  grpc::Status ListCertificates(grpc::ServerContext* ctx,
                                const gateway::v1::ListCertificatesRequest* request,
                                gateway::v1::ListCertificatesResponse* response) override;
  grpc::Status DeleteCertificate(grpc::ServerContext* ctx,
                                 const gateway::v1::DeleteCertificateRequest* request,
                                 gateway::v1::DeleteCertificateResponse* response) override;
  grpc::Status ListNodes(grpc::ServerContext* ctx, const gateway::v1::ListNodesRequest* request,
                         gateway::v1::ListNodesResponse* response) override;

 private:
  ConfigStore& store_;
  NodeDirectory& nodes_;
  DbWorker& worker_;
  const AdminGate& gate_;
};

}  // namespace gw::controlplane

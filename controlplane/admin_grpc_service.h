// gateway.v1.AdminService over the gRPC callback API: translates requests to ConfigStore /
// NodeDirectory calls on the DB thread and results back to responses, nothing else.
#pragma once

#include "controlplane/config_store.h"
#include "controlplane/db_worker.h"
#include "controlplane/node_directory.h"
#include "gateway/v1/admin.grpc.pb.h"

namespace gw::controlplane {

/// The admin API used by gctl (admin.proto). Every method returns its reactor at once and
/// is finished from the DB thread. Certificate answers are stripped of key_pem here as well
/// as in ConfigStore: a private key never leaves through this API. The references must
/// outlive the gRPC server.
class AdminGrpcService final : public gateway::v1::AdminService::CallbackService {
 public:
  AdminGrpcService(ConfigStore& store, NodeDirectory& nodes, DbWorker& worker)
      : store_(store), nodes_(nodes), worker_(worker) {}

  grpc::ServerUnaryReactor* CreateService(grpc::CallbackServerContext* ctx,
                                          const gateway::v1::CreateServiceRequest* request,
                                          gateway::v1::Service* response) override;
  grpc::ServerUnaryReactor* GetService(grpc::CallbackServerContext* ctx,
                                       const gateway::v1::GetServiceRequest* request,
                                       gateway::v1::Service* response) override;
  grpc::ServerUnaryReactor* ListServices(grpc::CallbackServerContext* ctx,
                                         const gateway::v1::ListServicesRequest* request,
                                         gateway::v1::ListServicesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateService(grpc::CallbackServerContext* ctx,
                                          const gateway::v1::UpdateServiceRequest* request,
                                          gateway::v1::Service* response) override;
  grpc::ServerUnaryReactor* DeleteService(grpc::CallbackServerContext* ctx,
                                          const gateway::v1::DeleteServiceRequest* request,
                                          gateway::v1::DeleteServiceResponse* response) override;
  grpc::ServerUnaryReactor* CreateInterface(grpc::CallbackServerContext* ctx,
                                            const gateway::v1::CreateInterfaceRequest* request,
                                            gateway::v1::Interface* response) override;
  grpc::ServerUnaryReactor* ListInterfaces(grpc::CallbackServerContext* ctx,
                                           const gateway::v1::ListInterfacesRequest* request,
                                           gateway::v1::ListInterfacesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteInterface(
      grpc::CallbackServerContext* ctx, const gateway::v1::DeleteInterfaceRequest* request,
      gateway::v1::DeleteInterfaceResponse* response) override;
  grpc::ServerUnaryReactor* CreateCertificate(grpc::CallbackServerContext* ctx,
                                              const gateway::v1::CreateCertificateRequest* request,
                                              gateway::v1::Certificate* response) override;
  grpc::ServerUnaryReactor* GetCertificate(grpc::CallbackServerContext* ctx,
                                           const gateway::v1::GetCertificateRequest* request,
                                           gateway::v1::Certificate* response) override;
  grpc::ServerUnaryReactor* ListCertificates(
      grpc::CallbackServerContext* ctx, const gateway::v1::ListCertificatesRequest* request,
      gateway::v1::ListCertificatesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteCertificate(
      grpc::CallbackServerContext* ctx, const gateway::v1::DeleteCertificateRequest* request,
      gateway::v1::DeleteCertificateResponse* response) override;
  grpc::ServerUnaryReactor* ListNodes(grpc::CallbackServerContext* ctx,
                                      const gateway::v1::ListNodesRequest* request,
                                      gateway::v1::ListNodesResponse* response) override;

 private:
  ConfigStore& store_;
  NodeDirectory& nodes_;
  DbWorker& worker_;
};

}  // namespace gw::controlplane

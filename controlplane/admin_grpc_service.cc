// AdminService: proto <-> ConfigStore / NodeDirectory, on the DB thread.
#include "controlplane/admin_grpc_service.h"

#include "controlplane/db_call.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

namespace {

// Moves a certificate into `out` without its private key.
grpc::Status deliver_certificate(Result<v1::Certificate>&& result, v1::Certificate* out) {
  grpc::Status status = deliver(std::move(result), out);
  out->clear_key_pem();
  return status;
}

}  // namespace

grpc::Status AdminGrpcService::CreateService(grpc::ServerContext* ctx,
                                             const v1::CreateServiceRequest* request,
                                             v1::Service* response) {
  if (auto refused = gate_.refuse(*ctx, "CreateService")) return *refused;
  return run_on_db(worker_, "CreateService", [this, request, response] {
    return deliver(store_.create_service(request->service()), response);
  });
}

grpc::Status AdminGrpcService::GetService(grpc::ServerContext* ctx,
                                          const v1::GetServiceRequest* request,
                                          v1::Service* response) {
  if (auto refused = gate_.refuse(*ctx, "GetService")) return *refused;
  return run_on_db(worker_, "GetService", [this, request, response] {
    return deliver(store_.get_service(request->name()), response);
  });
}

grpc::Status AdminGrpcService::ListServices(grpc::ServerContext* ctx,
                                            const v1::ListServicesRequest* request,
                                            v1::ListServicesResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListServices")) return *refused;
  return run_on_db(worker_, "ListServices", [this, request, response] {
    auto services = store_.list_services(request->instance());
    if (!services) return to_grpc_status(services.error());
    for (v1::Service& s : services.value()) *response->add_services() = std::move(s);
    return grpc::Status::OK;
  });
}

grpc::Status AdminGrpcService::UpdateService(grpc::ServerContext* ctx,
                                             const v1::UpdateServiceRequest* request,
                                             v1::Service* response) {
  if (auto refused = gate_.refuse(*ctx, "UpdateService")) return *refused;
  return run_on_db(worker_, "UpdateService", [this, request, response] {
    return deliver(store_.update_service(request->service(), request->update_mask()), response);
  });
}

grpc::Status AdminGrpcService::DeleteService(grpc::ServerContext* ctx,
                                             const v1::DeleteServiceRequest* request,
                                             v1::DeleteServiceResponse*) {
  if (auto refused = gate_.refuse(*ctx, "DeleteService")) return *refused;
  return run_on_db(worker_, "DeleteService", [this, request] {
    auto deleted = store_.delete_service(request->name());
    return deleted ? grpc::Status::OK : to_grpc_status(deleted.error());
  });
}

grpc::Status AdminGrpcService::CreateInterface(grpc::ServerContext* ctx,
                                               const v1::CreateInterfaceRequest* request,
                                               v1::Interface* response) {
  if (auto refused = gate_.refuse(*ctx, "CreateInterface")) return *refused;
  return run_on_db(worker_, "CreateInterface", [this, request, response] {
    return deliver(store_.create_interface(request->interface()), response);
  });
}

grpc::Status AdminGrpcService::ListInterfaces(grpc::ServerContext* ctx,
                                              const v1::ListInterfacesRequest* request,
                                              v1::ListInterfacesResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListInterfaces")) return *refused;
  return run_on_db(worker_, "ListInterfaces", [this, request, response] {
    auto interfaces = store_.list_interfaces(request->service());
    if (!interfaces) return to_grpc_status(interfaces.error());
    for (v1::Interface& i : interfaces.value()) *response->add_interfaces() = std::move(i);
    return grpc::Status::OK;
  });
}

grpc::Status AdminGrpcService::DeleteInterface(grpc::ServerContext* ctx,
                                               const v1::DeleteInterfaceRequest* request,
                                               v1::DeleteInterfaceResponse*) {
  if (auto refused = gate_.refuse(*ctx, "DeleteInterface")) return *refused;
  return run_on_db(worker_, "DeleteInterface", [this, request] {
    auto deleted = store_.delete_interface(request->id());
    return deleted ? grpc::Status::OK : to_grpc_status(deleted.error());
  });
}

grpc::Status AdminGrpcService::CreateCertificate(grpc::ServerContext* ctx,
                                                 const v1::CreateCertificateRequest* request,
                                                 v1::Certificate* response) {
  if (auto refused = gate_.refuse(*ctx, "CreateCertificate")) return *refused;
  return run_on_db(worker_, "CreateCertificate", [this, request, response] {
    return deliver_certificate(store_.create_certificate(request->certificate()), response);
  });
}

grpc::Status AdminGrpcService::GetCertificate(grpc::ServerContext* ctx,
                                              const v1::GetCertificateRequest* request,
                                              v1::Certificate* response) {
  if (auto refused = gate_.refuse(*ctx, "GetCertificate")) return *refused;
  return run_on_db(worker_, "GetCertificate", [this, request, response] {
    return deliver_certificate(store_.get_certificate(request->name()), response);
  });
}

grpc::Status AdminGrpcService::ListCertificates(grpc::ServerContext* ctx,
                                                const v1::ListCertificatesRequest*,
                                                v1::ListCertificatesResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListCertificates")) return *refused;
  return run_on_db(worker_, "ListCertificates", [this, response] {
    auto certificates = store_.list_certificates();
    if (!certificates) return to_grpc_status(certificates.error());
    for (v1::Certificate& c : certificates.value()) {
      c.clear_key_pem();
      *response->add_certificates() = std::move(c);
    }
    return grpc::Status::OK;
  });
}

grpc::Status AdminGrpcService::DeleteCertificate(grpc::ServerContext* ctx,
                                                 const v1::DeleteCertificateRequest* request,
                                                 v1::DeleteCertificateResponse*) {
  if (auto refused = gate_.refuse(*ctx, "DeleteCertificate")) return *refused;
  return run_on_db(worker_, "DeleteCertificate", [this, request] {
    auto deleted = store_.delete_certificate(request->name());
    return deleted ? grpc::Status::OK : to_grpc_status(deleted.error());
  });
}

grpc::Status AdminGrpcService::ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest*,
                                         v1::ListNodesResponse* response) {
  if (auto refused = gate_.refuse(*ctx, "ListNodes")) return *refused;
  return run_on_db(worker_, "ListNodes", [this, response] {
    auto nodes = nodes_.list(unix_now_ms());
    if (!nodes) return to_grpc_status(nodes.error());
    for (v1::Node& n : nodes.value()) *response->add_nodes() = std::move(n);
    return grpc::Status::OK;
  });
}

}  // namespace gw::controlplane

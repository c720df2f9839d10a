// AdminService: proto <-> ConfigStore / NodeDirectory, on the DB thread.
#include "controlplane/admin_grpc_service.h"

#include "controlplane/db_reactor.h"

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

grpc::ServerUnaryReactor* AdminGrpcService::CreateService(grpc::CallbackServerContext* ctx,
                                                          const v1::CreateServiceRequest* request,
                                                          v1::Service* response) {
  return finish_on_db(ctx, worker_, "CreateService", [this, request, response] {
    return deliver(store_.create_service(request->service()), response);
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::GetService(grpc::CallbackServerContext* ctx,
                                                       const v1::GetServiceRequest* request,
                                                       v1::Service* response) {
  return finish_on_db(ctx, worker_, "GetService", [this, request, response] {
    return deliver(store_.get_service(request->name()), response);
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::ListServices(grpc::CallbackServerContext* ctx,
                                                         const v1::ListServicesRequest* request,
                                                         v1::ListServicesResponse* response) {
  return finish_on_db(ctx, worker_, "ListServices", [this, request, response] {
    auto services = store_.list_services(request->instance());
    if (!services) return to_grpc_status(services.error());
    for (v1::Service& s : services.value()) *response->add_services() = std::move(s);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::UpdateService(grpc::CallbackServerContext* ctx,
                                                          const v1::UpdateServiceRequest* request,
                                                          v1::Service* response) {
  return finish_on_db(ctx, worker_, "UpdateService", [this, request, response] {
    return deliver(store_.update_service(request->service(), request->update_mask()), response);
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::DeleteService(grpc::CallbackServerContext* ctx,
                                                          const v1::DeleteServiceRequest* request,
                                                          v1::DeleteServiceResponse*) {
  return finish_on_db(ctx, worker_, "DeleteService", [this, request] {
    auto deleted = store_.delete_service(request->name());
    return deleted ? grpc::Status::OK : to_grpc_status(deleted.error());
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::CreateInterface(
    grpc::CallbackServerContext* ctx, const v1::CreateInterfaceRequest* request,
    v1::Interface* response) {
  return finish_on_db(ctx, worker_, "CreateInterface", [this, request, response] {
    return deliver(store_.create_interface(request->interface()), response);
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::ListInterfaces(grpc::CallbackServerContext* ctx,
                                                           const v1::ListInterfacesRequest* request,
                                                           v1::ListInterfacesResponse* response) {
  return finish_on_db(ctx, worker_, "ListInterfaces", [this, request, response] {
    auto interfaces = store_.list_interfaces(request->service());
    if (!interfaces) return to_grpc_status(interfaces.error());
    for (v1::Interface& i : interfaces.value()) *response->add_interfaces() = std::move(i);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::DeleteInterface(
    grpc::CallbackServerContext* ctx, const v1::DeleteInterfaceRequest* request,
    v1::DeleteInterfaceResponse*) {
  return finish_on_db(ctx, worker_, "DeleteInterface", [this, request] {
    auto deleted = store_.delete_interface(request->id());
    return deleted ? grpc::Status::OK : to_grpc_status(deleted.error());
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::CreateCertificate(
    grpc::CallbackServerContext* ctx, const v1::CreateCertificateRequest* request,
    v1::Certificate* response) {
  return finish_on_db(ctx, worker_, "CreateCertificate", [this, request, response] {
    return deliver_certificate(store_.create_certificate(request->certificate()), response);
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::GetCertificate(grpc::CallbackServerContext* ctx,
                                                           const v1::GetCertificateRequest* request,
                                                           v1::Certificate* response) {
  return finish_on_db(ctx, worker_, "GetCertificate", [this, request, response] {
    return deliver_certificate(store_.get_certificate(request->name()), response);
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::ListCertificates(
    grpc::CallbackServerContext* ctx, const v1::ListCertificatesRequest*,
    v1::ListCertificatesResponse* response) {
  return finish_on_db(ctx, worker_, "ListCertificates", [this, response] {
    auto certificates = store_.list_certificates();
    if (!certificates) return to_grpc_status(certificates.error());
    for (v1::Certificate& c : certificates.value()) {
      c.clear_key_pem();
      *response->add_certificates() = std::move(c);
    }
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::DeleteCertificate(
    grpc::CallbackServerContext* ctx, const v1::DeleteCertificateRequest* request,
    v1::DeleteCertificateResponse*) {
  return finish_on_db(ctx, worker_, "DeleteCertificate", [this, request] {
    auto deleted = store_.delete_certificate(request->name());
    return deleted ? grpc::Status::OK : to_grpc_status(deleted.error());
  });
}

grpc::ServerUnaryReactor* AdminGrpcService::ListNodes(grpc::CallbackServerContext* ctx,
                                                      const v1::ListNodesRequest*,
                                                      v1::ListNodesResponse* response) {
  return finish_on_db(ctx, worker_, "ListNodes", [this, response] {
    auto nodes = nodes_.list(unix_now_ms());
    if (!nodes) return to_grpc_status(nodes.error());
    for (v1::Node& n : nodes.value()) *response->add_nodes() = std::move(n);
    return grpc::Status::OK;
  });
}

}  // namespace gw::controlplane

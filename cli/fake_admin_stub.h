// Test double for AdminService's synchronous stub: records each request and its deadline and
// answers with a canned status and response (FakeCallRecorder). gctl unit tests only.
#pragma once

#include <cstdlib>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "cli/fake_call_recorder.h"
#include "gateway/v1/admin.grpc.pb.h"

namespace gw::cli {

class FakeAdminStub final : public gateway::v1::AdminService::StubInterface,
                            public FakeCallRecorder {
 public:
#define GW_FAKE_UNARY(Method, Request, Response)                                         \
  grpc::Status Method(grpc::ClientContext* context, const gateway::v1::Request& request, \
                      gateway::v1::Response* response) override {                        \
    return handle(#Method, *context, request, response);                                 \
  }
  GW_FAKE_UNARY(CreateService, CreateServiceRequest, Service)
  GW_FAKE_UNARY(GetService, GetServiceRequest, Service)
  GW_FAKE_UNARY(ListServices, ListServicesRequest, ListServicesResponse)
  GW_FAKE_UNARY(UpdateService, UpdateServiceRequest, Service)
  GW_FAKE_UNARY(DeleteService, DeleteServiceRequest, DeleteServiceResponse)
  GW_FAKE_UNARY(CreateInterface, CreateInterfaceRequest, Interface)
  GW_FAKE_UNARY(ListInterfaces, ListInterfacesRequest, ListInterfacesResponse)
  GW_FAKE_UNARY(DeleteInterface, DeleteInterfaceRequest, DeleteInterfaceResponse)
  GW_FAKE_UNARY(ListNodes, ListNodesRequest, ListNodesResponse)
  GW_FAKE_UNARY(CreateCertificate, CreateCertificateRequest, Certificate)
  GW_FAKE_UNARY(GetCertificate, GetCertificateRequest, Certificate)
  GW_FAKE_UNARY(ListCertificates, ListCertificatesRequest, ListCertificatesResponse)
  GW_FAKE_UNARY(DeleteCertificate, DeleteCertificateRequest, DeleteCertificateResponse)
#undef GW_FAKE_UNARY

 private:
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
  GW_FAKE_ASYNC(CreateService, CreateServiceRequest, Service)
  GW_FAKE_ASYNC(GetService, GetServiceRequest, Service)
  GW_FAKE_ASYNC(ListServices, ListServicesRequest, ListServicesResponse)
  GW_FAKE_ASYNC(UpdateService, UpdateServiceRequest, Service)
  GW_FAKE_ASYNC(DeleteService, DeleteServiceRequest, DeleteServiceResponse)
  GW_FAKE_ASYNC(CreateInterface, CreateInterfaceRequest, Interface)
  GW_FAKE_ASYNC(ListInterfaces, ListInterfacesRequest, ListInterfacesResponse)
  GW_FAKE_ASYNC(DeleteInterface, DeleteInterfaceRequest, DeleteInterfaceResponse)
  GW_FAKE_ASYNC(ListNodes, ListNodesRequest, ListNodesResponse)
  GW_FAKE_ASYNC(CreateCertificate, CreateCertificateRequest, Certificate)
  GW_FAKE_ASYNC(GetCertificate, GetCertificateRequest, Certificate)
  GW_FAKE_ASYNC(ListCertificates, ListCertificatesRequest, ListCertificatesResponse)
  GW_FAKE_ASYNC(DeleteCertificate, DeleteCertificateRequest, DeleteCertificateResponse)
#undef GW_FAKE_ASYNC
};

}  // namespace gw::cli

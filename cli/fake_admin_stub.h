// Test double for AdminService's synchronous stub: records each request and its deadline and
// answers with a canned status and response. Used by the gctl unit tests only.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include "gateway/v1/admin.grpc.pb.h"

namespace gw::cli {

class FakeAdminStub final : public gateway::v1::AdminService::StubInterface {
 public:
  /// The next calls answer `status`; on OK the response is a copy of `response` when given
  /// (it must be of the method's response type) and empty otherwise.
  void answer(grpc::Status status, const google::protobuf::Message* response = nullptr) {
    status_ = std::move(status);
    response_.reset(response == nullptr ? nullptr : response->New());
    if (response != nullptr) response_->CopyFrom(*response);
  }

  int calls() const { return static_cast<int>(methods_.size()); }
  const std::vector<std::string>& methods() const { return methods_; }
  std::chrono::system_clock::time_point last_deadline() const { return last_deadline_; }

  /// The last request, as its type; aborts the test binary if the type differs.
  template <typename Request>
  const Request& last_request() const {
    const auto* request = dynamic_cast<const Request*>(last_request_.get());
    if (request == nullptr) {
      std::fprintf(stderr, "FakeAdminStub: last request is not a %s\n",
                   Request::descriptor()->full_name().c_str());
      std::abort();
    }
    return *request;
  }

#define GW_FAKE_UNARY(Method, Request, Response)                                         \
  grpc::Status Method(grpc::ClientContext* context, const gateway::v1::Request& request, \
                      gateway::v1::Response* response) override {                        \
    return handle(#Method, *context, request, *response);                                \
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
  grpc::Status handle(const char* method, const grpc::ClientContext& context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message& response) {
    methods_.emplace_back(method);
    last_deadline_ = context.deadline();
    last_request_.reset(request.New());
    last_request_->CopyFrom(request);
    if (!status_.ok()) return status_;
    if (response_ != nullptr) response.CopyFrom(*response_);
    return grpc::Status::OK;
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

  grpc::Status status_;
  std::unique_ptr<google::protobuf::Message> response_;
  std::vector<std::string> methods_;
  std::unique_ptr<google::protobuf::Message> last_request_;
  std::chrono::system_clock::time_point last_deadline_{};
};

}  // namespace gw::cli

// Shared part of gctl's fake stubs: records each request and its deadline and answers with
// a canned status and response. Used by the gctl unit tests only.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

namespace gw::cli {

class FakeCallRecorder {
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
      std::fprintf(stderr, "fake stub: last request is not a %s\n",
                   Request::descriptor()->full_name().c_str());
      std::abort();
    }
    return *request;
  }

 protected:
  /// Records one call; returns the canned status and fills `response` on OK.
  grpc::Status handle(const char* method, const grpc::ClientContext& context,
                      const google::protobuf::Message& request,
                      google::protobuf::Message* response) {
    methods_.emplace_back(method);
    last_deadline_ = context.deadline();
    last_request_.reset(request.New());
    last_request_->CopyFrom(request);
    if (!status_.ok()) return status_;
    if (response != nullptr && response_ != nullptr) response->CopyFrom(*response_);
    return grpc::Status::OK;
  }

 private:
  grpc::Status status_;
  std::unique_ptr<google::protobuf::Message> response_;
  std::vector<std::string> methods_;
  std::unique_ptr<google::protobuf::Message> last_request_;
  std::chrono::system_clock::time_point last_deadline_{};
};

}  // namespace gw::cli

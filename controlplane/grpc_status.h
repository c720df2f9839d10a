// The one place where domain errors become gRPC statuses (admin.proto error contract).
#pragma once

#include <grpcpp/support/status.h>

#include "controlplane/error.h"

namespace gw::controlplane {

inline grpc::StatusCode to_grpc_code(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Code::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Code::kInternal:
      break;
  }
  return grpc::StatusCode::INTERNAL;
}

inline grpc::Status to_grpc_status(const Error& error) {
  return grpc::Status(to_grpc_code(error.code), error.message);
}

}  // namespace gw::controlplane

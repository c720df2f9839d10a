// gctl's connection to the control plane: a plain gRPC channel to AdminService, with a bounded
// wait for the connection and a deadline on every call (DESIGN.md §8).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/client_context.h>

#include "gateway/v1/admin.grpc.pb.h"

namespace gw::cli {

/// How long gctl waits for the TCP/HTTP2 connection to the control plane.
inline constexpr std::chrono::seconds kConnectTimeout{3};
/// Deadline of every admin call, connection included.
inline constexpr std::chrono::seconds kCallTimeout{10};
/// Server used when neither --server nor $GCTL_SERVER is given.
inline constexpr const char* kDefaultServer = "127.0.0.1:7070";

/// `env_value` (the value of $GCTL_SERVER, null when unset) if non-empty, else kDefaultServer.
std::string default_server(const char* env_value);

/// Opens an insecure channel to `server` ("host:port", any gRPC target) and waits up to
/// `connect_timeout` until it is ready. Returns nullptr when the server cannot be reached
/// (refused, unresolvable, no answer in time); the caller reports that. HTTP proxies from the
/// environment are not used: the admin API is reached directly.
std::shared_ptr<gateway::v1::AdminService::StubInterface> connect_admin(
    const std::string& server, std::chrono::milliseconds connect_timeout = kConnectTimeout);

/// Sets `context`'s deadline to now + `timeout`. Every call gctl makes goes through this.
void set_call_deadline(grpc::ClientContext& context,
                       std::chrono::milliseconds timeout = kCallTimeout);

}  // namespace gw::cli

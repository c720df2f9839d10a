// Runs the work of a unary gRPC call on the DB thread and finishes the call from there.
#pragma once

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "controlplane/db_worker.h"
#include "controlplane/grpc_status.h"

namespace gw::controlplane {

/// Queues `work` (a callable returning grpc::Status, run on the DB thread) and returns the
/// call's reactor at once, so the gRPC thread never waits for SQLite. The reactor is
/// finished with work's status; with UNAVAILABLE when the worker refuses the task (shutdown,
/// full queue); with INTERNAL when work throws. `work` may use the request and response of
/// the call: they live until the reactor is finished.
template <class Work>
grpc::ServerUnaryReactor* finish_on_db(grpc::CallbackServerContext* ctx, DbWorker& worker,
                                       const char* method, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const bool queued = worker.post([reactor, method, work = std::move(work)]() mutable {
    grpc::Status status;
    try {
      status = work();
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", method, e.what());
      status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
    if (!status.ok()) {
      spdlog::debug("{} refused: {} {}", method, static_cast<int>(status.error_code()),
                    status.error_message());
    }
    reactor->Finish(status);
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "control plane is shutting down or overloaded"));
  }
  return reactor;
}

/// Moves a successful result into `*out` and returns OK, or returns the error's status.
template <class T, class Out>
grpc::Status deliver(Result<T>&& result, Out* out) {
  if (!result) return to_grpc_status(result.error());
  *out = std::move(result).value();
  return grpc::Status::OK;
}

}  // namespace gw::controlplane

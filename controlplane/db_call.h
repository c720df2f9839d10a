// Runs the work of a unary gRPC call on the DB thread and waits for its status.
#pragma once

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <future>
#include <utility>

#include "controlplane/db_worker.h"
#include "controlplane/grpc_status.h"

namespace gw::controlplane {

/// Runs `work` (a callable returning grpc::Status) on the DB thread, the only user of the
/// admin SQLite connection, and returns its status to the calling gRPC synchronous-API
/// thread, which waits. UNAVAILABLE when the worker refuses the task (shutdown, full
/// queue: DbWorker::kMaxQueued); INTERNAL when work throws. `work` may use the call's
/// request and response: the caller waits until it has run. A task the worker accepted
/// always runs (DbWorker::stop drains the queue), so the wait ends.
template <class Work>
grpc::Status run_on_db(DbWorker& worker, const char* method, Work work) {
  std::promise<grpc::Status> result;
  std::future<grpc::Status> status = result.get_future();
  const bool queued = worker.post([&result, &work, method] {
    grpc::Status s;
    try {
      s = work();
    } catch (const std::exception& e) {
      spdlog::error("{}: {}", method, e.what());
      s = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
    if (!s.ok()) {
      spdlog::debug("{} refused: {} {}", method, static_cast<int>(s.error_code()),
                    s.error_message());
    }
    result.set_value(std::move(s));
  });
  if (!queued) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "control plane is shutting down or overloaded");
  }
  return status.get();
}

/// Moves a successful result into `*out` and returns OK, or returns the error's status.
template <class T, class Out>
grpc::Status deliver(Result<T>&& result, Out* out) {
  if (!result) return to_grpc_status(result.error());
  *out = std::move(result).value();
  return grpc::Status::OK;
}

}  // namespace gw::controlplane

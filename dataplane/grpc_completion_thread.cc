// The completion-queue thread of the node's gRPC client calls.
#include "dataplane/grpc_completion_thread.h"

namespace gw::dataplane {

GrpcCompletionThread::GrpcCompletionThread() = default;

GrpcCompletionThread::~GrpcCompletionThread() { shutdown(); }

void GrpcCompletionThread::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  cq_.Shutdown();
  thread_.join();
}

}  // namespace gw::dataplane

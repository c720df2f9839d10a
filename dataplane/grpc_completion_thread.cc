// The completion-queue thread of the node's gRPC client calls.
#include "dataplane/grpc_completion_thread.h"

#include <pthread.h>

namespace gw::dataplane {

GrpcCompletionThread::GrpcCompletionThread() : thread_([this] { run(); }) {}

GrpcCompletionThread::~GrpcCompletionThread() { shutdown(); }

void GrpcCompletionThread::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  cq_.Shutdown();
  thread_.join();
}

void GrpcCompletionThread::run() {
  pthread_setname_np(pthread_self(), "grpc-decisions");
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) static_cast<CqStep*>(tag)->done(ok);
}

}  // namespace gw::dataplane

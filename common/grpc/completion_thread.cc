// The completion-queue loop.
#include "common/grpc/completion_thread.h"

#include <pthread.h>

namespace gw::common {

CompletionThread::CompletionThread(grpc::CompletionQueue& cq, const std::string& name)
    : thread_([&cq, name] {
        pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
        void* tag = nullptr;
        bool ok = false;
        while (cq.Next(&tag, &ok)) static_cast<CqStep*>(tag)->done(ok);
      }) {}

CompletionThread::~CompletionThread() { join(); }

void CompletionThread::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace gw::common

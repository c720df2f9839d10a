// gctld's server completion queue.
#include "controlplane/cq_server_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/grpc/cq_step.h"

namespace gw::controlplane {

CqServerQueue::CqServerQueue(grpc::ServerBuilder& builder) : cq_(builder.AddCompletionQueue()) {}

CqServerQueue::~CqServerQueue() { shutdown(std::chrono::milliseconds::zero()); }

void CqServerQueue::start(std::size_t threads) {
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
    threads_.push_back(std::make_unique<common::CompletionThread>(*cq_, "grpc-cq"));
  }
}

void CqServerQueue::call_created() {
  std::lock_guard lock(mu_);
  ++live_calls_;
}

void CqServerQueue::call_destroyed() {
  std::lock_guard lock(mu_);
  --live_calls_;
  if (live_calls_ == 0) calls_ended_.notify_all();
}

void CqServerQueue::shutdown(std::chrono::milliseconds wait) {
  {
    std::unique_lock lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (!threads_.empty() &&
        !calls_ended_.wait_for(lock, wait, [this] { return live_calls_ == 0; })) {
      spdlog::warn("gRPC: {} call(s) still open at shutdown", live_calls_);
    }
  }
  cq_->Shutdown();
  if (threads_.empty()) {
    // Never started (the server could not be built): drain here.
    void* tag = nullptr;
    bool ok = false;
    while (cq_->Next(&tag, &ok)) static_cast<common::CqStep*>(tag)->done(ok);
  }
  for (auto& t : threads_) t->join();
}

}  // namespace gw::controlplane

// DecideStream: reads calls, hands them to the decision service, writes results in order
// of completion.
#include "controlplane/decision_stream_reactor.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "controlplane/decision_grpc_service.h"

namespace gw::controlplane {

void DecisionStreamReactor::accept(DecisionGrpcService& service, CqServerQueue& queue) {
  auto* reactor = new DecisionStreamReactor(service, queue);
  void* tag = reactor->arm([&service, &queue] { accept(service, queue); });
  service.RequestDecideStream(reactor->context(), reactor->stream(), queue.cq(), queue.cq(), tag);
}

void DecisionStreamReactor::OnStart() { StartRead(&incoming_); }

void DecisionStreamReactor::OnReadDone(bool ok) {
  if (!ok) {
    Next next;
    {
      std::lock_guard lock(mu_);
      reads_done_ = true;
      next = next_locked();
    }
    perform(next);
    return;
  }
  const auto received = std::chrono::steady_clock::now();
  // The call leaves incoming_ before the next read may write into it, and lives until its
  // answer (decide() may finish on the slow pool): the answer owns it.
  auto call = std::make_shared<gateway::v1::DecisionCall>(std::move(incoming_));
  incoming_.Clear();
  {
    std::lock_guard lock(mu_);
    ++deciding_;
  }
  StartRead(&incoming_);
  const gateway::v1::DecisionRequest& request = call->request();
  service_.decide(request, received,
                  [this, call](grpc::Status status, gateway::v1::DecisionResponse response) {
                    gateway::v1::DecisionResult result;
                    result.set_call_id(call->call_id());
                    if (status.ok()) {
                      *result.mutable_response() = std::move(response);
                    } else {
                      result.set_status_code(static_cast<int>(status.error_code()));
                      result.set_status_message(status.error_message());
                    }
                    deliver(std::move(result));
                  });
}

void DecisionStreamReactor::deliver(gateway::v1::DecisionResult result) {
  Next next;
  {
    std::lock_guard lock(mu_);
    --deciding_;
    if (!writes_failed_) ready_.push_back(std::move(result));
    next = next_locked();
  }
  perform(next);
}

void DecisionStreamReactor::OnWriteDone(bool ok) {
  Next next;
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      writes_failed_ = true;
      ready_.clear();
    }
    next = next_locked();
  }
  perform(next);
}

DecisionStreamReactor::Next DecisionStreamReactor::next_locked() {
  if (finished_ || writing_) return Next::kNothing;
  if (!ready_.empty() && !writes_failed_) {
    current_ = std::move(ready_.front());
    ready_.pop_front();
    more_after_current_ = !ready_.empty();
    writing_ = true;
    return Next::kWrite;
  }
  if (reads_done_ && deciding_ == 0) {
    finished_ = true;
    return Next::kFinish;
  }
  return Next::kNothing;
}

void DecisionStreamReactor::perform(Next next) {
  switch (next) {
    case Next::kWrite: {
      grpc::WriteOptions options;
      if (more_after_current_) options.set_buffer_hint();
      StartWrite(&current_, options);
      return;
    }
    case Next::kFinish:
      Finish(grpc::Status::OK);
      return;
    case Next::kNothing:
      return;
  }
}

void DecisionStreamReactor::OnDone() { delete this; }

}  // namespace gw::controlplane

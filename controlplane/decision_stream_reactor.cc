// DecideStream / DecideBatches: reads calls, hands them to the decision service, writes
// results in order of completion.
#include "controlplane/decision_stream_reactor.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "controlplane/decision_grpc_service.h"

namespace gw::controlplane {
namespace v1 = gateway::v1;

namespace {
constexpr bool is_batch(const v1::DecisionCallBatch*) { return true; }
constexpr bool is_batch(const v1::DecisionCall*) { return false; }
}  // namespace

template <class In, class Out>
void DecisionStreamReactor<In, Out>::accept(DecisionGrpcService& service, CqServerQueue& queue) {
  auto* reactor = new DecisionStreamReactor(service, queue);
  void* tag = reactor->arm([&service, &queue] { accept(service, queue); });
  if constexpr (is_batch(static_cast<const In*>(nullptr))) {
    service.RequestDecideBatches(reactor->context(), reactor->stream(), queue.cq(), queue.cq(),
                                 tag);
  } else {
    service.RequestDecideStream(reactor->context(), reactor->stream(), queue.cq(), queue.cq(),
                                tag);
  }
}

template <class In, class Out>
void DecisionStreamReactor<In, Out>::OnStart() {
  this->StartRead(&incoming_);
}

template <class In, class Out>
void DecisionStreamReactor<In, Out>::OnReadDone(bool ok) {
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
  In message = std::move(incoming_);
  incoming_.Clear();
  {
    std::lock_guard lock(mu_);
    if constexpr (is_batch(static_cast<const In*>(nullptr))) {
      deciding_ += static_cast<std::size_t>(message.calls_size());
    } else {
      ++deciding_;
    }
  }
  // The next read first: a slow decision below never holds up the calls behind it.
  this->StartRead(&incoming_);
  if constexpr (is_batch(static_cast<const In*>(nullptr))) {
    for (v1::DecisionCall& call : *message.mutable_calls()) decide(std::move(call));
  } else {
    decide(std::move(message));
  }
}

template <class In, class Out>
void DecisionStreamReactor<In, Out>::decide(v1::DecisionCall call) {
  // A call that reached gctld later than this stream's calls usually do has waited that
  // much longer at the node: its deadline checks count from that earlier moment.
  const auto arrived = std::chrono::steady_clock::now();
  // The call lives until its answer (decide() may finish on the slow pool): the answer
  // owns it.
  auto owned = std::make_shared<v1::DecisionCall>(std::move(call));
  const v1::DecisionRequest& request = owned->request();
  const auto received = arrived - lag_.observe(request.sent_steady_us(), arrived);
  service_.decide(request, received,
                  [this, owned](grpc::Status status, v1::DecisionResponse response) {
                    v1::DecisionResult result;
                    result.set_call_id(owned->call_id());
                    if (status.ok()) {
                      *result.mutable_response() = std::move(response);
                    } else {
                      result.set_status_code(static_cast<int>(status.error_code()));
                      result.set_status_message(status.error_message());
                    }
                    deliver(std::move(result));
                  });
}

template <class In, class Out>
void DecisionStreamReactor<In, Out>::deliver(v1::DecisionResult result) {
  Next next;
  {
    std::lock_guard lock(mu_);
    --deciding_;
    if (!writes_failed_) ready_.push_back(std::move(result));
    next = next_locked();
  }
  perform(next);
}

template <class In, class Out>
void DecisionStreamReactor<In, Out>::OnWriteDone(bool ok) {
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

template <class In, class Out>
typename DecisionStreamReactor<In, Out>::Next DecisionStreamReactor<In, Out>::next_locked() {
  if (finished_ || writing_) return Next::kNothing;
  if (!ready_.empty() && !writes_failed_) {
    if constexpr (is_batch(static_cast<const In*>(nullptr))) {
      current_.Clear();
      while (!ready_.empty() && current_.results_size() < kMaxDecisionBatch) {
        *current_.add_results() = std::move(ready_.front());
        ready_.pop_front();
      }
    } else {
      current_ = std::move(ready_.front());
      ready_.pop_front();
    }
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

template <class In, class Out>
void DecisionStreamReactor<In, Out>::perform(Next next) {
  switch (next) {
    case Next::kWrite: {
      grpc::WriteOptions options;
      if (more_after_current_) options.set_buffer_hint();
      this->StartWrite(&current_, options);
      return;
    }
    case Next::kFinish:
      this->Finish(grpc::Status::OK);
      return;
    case Next::kNothing:
      return;
  }
}

template <class In, class Out>
void DecisionStreamReactor<In, Out>::OnDone() {
  delete this;
}

template class DecisionStreamReactor<v1::DecisionCall, v1::DecisionResult>;
template class DecisionStreamReactor<v1::DecisionCallBatch, v1::DecisionResultBatch>;

}  // namespace gw::controlplane

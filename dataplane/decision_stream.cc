// DecideStream client on the completion-queue API: call ids, write queue, results matched
// back to their callers.
#include "dataplane/decision_stream.h"

#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/logging.h"

namespace gw::dataplane {

std::shared_ptr<DecisionStream> DecisionStream::open(gateway::v1::DecisionService::Stub& stub,
                                                     grpc::CompletionQueue& cq, bool batched) {
  std::shared_ptr<DecisionStream> stream(new DecisionStream());
  stream->self_ = stream;
  stream->batched_ = batched;
  if (batched) {
    stream->batch_call_ = stub.PrepareAsyncDecideBatches(&stream->context_, &cq);
    stream->batch_call_->StartCall(&stream->started_);
  } else {
    stream->call_ = stub.PrepareAsyncDecideStream(&stream->context_, &cq);
    stream->call_->StartCall(&stream->started_);
  }
  return stream;
}

std::optional<std::uint64_t> DecisionStream::submit(gateway::v1::DecisionRequest request,
                                                    std::shared_ptr<PendingDecision> pending) {
  std::uint64_t id = 0;
  bool write = false;
  {
    std::lock_guard lock(mu_);
    if (broken() || queued_.size() >= kMaxQueued) return std::nullopt;
    id = ++next_call_id_;
    pending_.emplace(id, std::move(pending));
    gateway::v1::DecisionCall call;
    call.set_call_id(id);
    *call.mutable_request() = std::move(request);
    queued_.push_back(std::move(call));
    write = next_write_locked();
  }
  if (write) start_write();
  return id;
}

void DecisionStream::forget(std::uint64_t call_id) {
  std::lock_guard lock(mu_);
  pending_.erase(call_id);
  // Not written yet (a write was in flight all along): it is not sent at all, so gctld
  // never decides what nobody waits for.
  std::erase_if(queued_, [call_id](const gateway::v1::DecisionCall& c) {
    return c.call_id() == call_id;
  });
}

void DecisionStream::close() { context_.TryCancel(); }

bool DecisionStream::next_write_locked() {
  if (!call_started_ || writing_ || queued_.empty() || broken()) return false;
  if (batched_) {
    current_batch_.Clear();
    while (!queued_.empty() && current_batch_.calls_size() < kMaxBatch) {
      *current_batch_.add_calls() = std::move(queued_.front());
      queued_.pop_front();
    }
  } else {
    current_ = std::move(queued_.front());
    queued_.pop_front();
  }
  more_after_current_ = !queued_.empty();
  writing_ = true;
  return true;
}

void DecisionStream::start_write() {
  grpc::WriteOptions options;
  if (more_after_current_) options.set_buffer_hint();
  if (batched_) {
    batch_call_->Write(current_batch_, options, &written_);
  } else {
    call_->Write(current_, options, &written_);
  }
}

void DecisionStream::start_read() {
  if (batched_) {
    batch_call_->Read(&incoming_batch_, &read_);
  } else {
    call_->Read(&incoming_, &read_);
  }
}

void DecisionStream::start_finish() {
  if (batched_) {
    batch_call_->Finish(&status_, &finish_);
  } else {
    call_->Finish(&status_, &finish_);
  }
}

bool DecisionStream::finish_now_locked() {
  if (finish_started_ || writing_ || !reads_ended_) return false;
  finish_started_ = true;
  return true;
}

void DecisionStream::end_reads() {
  bool finish = false;
  {
    std::lock_guard lock(mu_);
    broken_.store(true, std::memory_order_release);
    reads_ended_ = true;
    finish = finish_now_locked();
  }
  if (finish) start_finish();
}

void DecisionStream::on_started(bool ok) {
  if (!ok) {
    end_reads();
    return;
  }
  bool write = false;
  {
    std::lock_guard lock(mu_);
    call_started_ = true;
    write = next_write_locked();
  }
  start_read();
  if (write) start_write();
}

void DecisionStream::on_written(bool ok) {
  bool write = false;
  bool finish = false;
  {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) broken_.store(true, std::memory_order_release);
    write = next_write_locked();
    finish = finish_now_locked();
  }
  // A write fails only when the call is over; the cancel makes sure the read ends too.
  if (!ok) context_.TryCancel();
  if (write) start_write();
  if (finish) start_finish();
}

void DecisionStream::on_read(bool ok) {
  if (!ok) {
    end_reads();
    return;
  }
  if (batched_) {
    gateway::v1::DecisionResultBatch batch = std::move(incoming_batch_);
    incoming_batch_.Clear();
    start_read();
    for (gateway::v1::DecisionResult& result : *batch.mutable_results()) complete(result);
  } else {
    gateway::v1::DecisionResult result = std::move(incoming_);
    incoming_.Clear();
    start_read();
    complete(result);
  }
}

void DecisionStream::complete(gateway::v1::DecisionResult& result) {
  const std::uint64_t id = result.call_id();
  const int code = result.status_code();
  grpc::Status status = code == 0 ? grpc::Status::OK
                                  : grpc::Status(static_cast<grpc::StatusCode>(code),
                                                 result.status_message());
  gateway::v1::DecisionResponse response = std::move(*result.mutable_response());
  std::shared_ptr<PendingDecision> pending;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) {
      // The caller stopped waiting (decision timeout) and answered fail-safe or fail-open;
      // gctld has audited this decision all the same. The id lets an operator tie that
      // record to the session's "decision unavailable" line (controlplane/README.md). An
      // answer without a decision (gctld gave up at the same deadline) says why instead
      // (probe round 40: "decision  (call 35)").
      if (response.decision_id().empty()) {
        spdlog::info("call {}: gctld's answer ({}) arrived after its session stopped waiting "
                     "for it; no decision was made",
                     id, common::log_escape(status.ok() ? "no decision id" : status.error_message(), 128));
        return;
      }
      spdlog::info("decision {} (call {}) arrived after its session stopped waiting for it; "
                   "the session answered without it",
                   common::log_escape(response.decision_id(), 64), id);
      return;
    }
    pending = std::move(it->second);
    pending_.erase(it);
  }
  pending->complete(std::move(status), std::move(response));
}

void DecisionStream::on_finished(bool /*ok*/) {
  std::unordered_map<std::uint64_t, std::shared_ptr<PendingDecision>> unanswered;
  {
    std::lock_guard lock(mu_);
    broken_.store(true, std::memory_order_release);
    unanswered.swap(pending_);
    queued_.clear();
  }
  const grpc::Status failed(
      grpc::StatusCode::UNAVAILABLE,
      "decision stream ended: " + (status_.error_message().empty()
                                       ? "status " + std::to_string(status_.error_code())
                                       : status_.error_message()));
  for (auto& [_, pending] : unanswered) pending->complete(failed, {});
  finished_.store(true, std::memory_order_release);
  self_.reset();  // may delete this: nothing after it
}

}  // namespace gw::dataplane

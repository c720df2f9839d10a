// The relay node's question to the policy decision point: one decision per handled command
// (DESIGN.md §2 "decision", §7 "Fail safe"; decision.proto).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "dataplane/asio.h"
#include "dataplane/decision_stream.h"
#include "dataplane/grpc_completion_thread.h"
#include "dataplane/smtp/reply.h"
#include "gateway/v1/decision.grpc.pb.h"

namespace gw::dataplane {

/// The answer to one DecisionRequest, as the session uses it.
struct Decision {
  enum class Outcome {
    kContinue,     // the command goes on
    kReject,       // answer `reply` (5xx)
    kTempfail,     // answer `reply` (4xx)
    kUnavailable,  // no answer in time or an RPC error: the session applies fail-safe rules
  };
  Outcome outcome = Outcome::kUnavailable;
  smtp::Reply reply;          // kReject/kTempfail: the policy's reply, decision id appended
  std::string decision_id;
  std::map<std::string, std::string> attribute_changes;
  std::optional<std::string> replaced_message;  // DATA: the message the policy produced
  std::string error;          // kUnavailable: why (for logs)
};

/// Lets a session give up a decision it no longer needs: its client's connection failed
/// while the decision was out (probe round 28: the session kept its slot and upstream
/// connection until the decision or its timeout came). The policy client sets it while a
/// decision it can cancel is out; cancel() then completes that decide() at once with
/// kUnavailable (gRPC CANCELLED), and gctld's answer, if it still comes, is dropped. Used
/// on the session's executor only.
class DecisionCancellation {
 public:
  /// Cancels the decision out now, if any; afterwards (or without one) it does nothing.
  void cancel() {
    if (cancel_) std::exchange(cancel_, nullptr)();
  }
  /// By the policy client: what cancel() does (empty: nothing to cancel).
  void set(std::function<void()> cancel) { cancel_ = std::move(cancel); }

 private:
  std::function<void()> cancel_;
};

/// Asks for decisions. Implementations complete on the calling coroutine's executor and
/// never block it. `timeout` bounds the whole call (gRPC deadline). `cancellation` (may be
/// null) is set for the time the decision is out when the implementation can cancel it.
class PolicyClient {
 public:
  virtual ~PolicyClient() = default;
  virtual awaitable<Decision> decide(gateway::v1::DecisionRequest request,
                                     std::chrono::milliseconds timeout,
                                     DecisionCancellation* cancellation) = 0;
  /// The same, not cancellable.
  awaitable<Decision> decide(gateway::v1::DecisionRequest request,
                             std::chrono::milliseconds timeout) {
    return decide(std::move(request), timeout, nullptr);
  }
};

/// DecisionService over gRPC on the asynchronous completion-queue API, polled by one
/// GrpcCompletionThread of its own: it reads the answers, matches them to their calls and
/// posts each result to its session's executor (STYLE.md: no event-loop thread waits).
/// HELO, AUTH, MAIL and RCPT decisions share one DecideStream (a DecisionStream, reopened
/// when it broke): per decision that costs a message each way instead of a whole HTTP/2
/// call. DATA decisions carry the message and use unary Decide, so a large message never
/// holds up the small decisions behind it. `timeout` is enforced here with a timer on the
/// session's executor (stream) or as the gRPC deadline (unary); either way the session then
/// gets kUnavailable. Thread-safe; one instance serves all sessions of a node.
///
/// Why not gRPC's callback API (used up to session 5): in gRPC 1.51 every callback runs
/// on gRPC's "nexting" threads, which also poll the sockets, so each decision woke them
/// 3.4 times (tests/bench/README.md, "Reading the decision numbers").
class GrpcPolicyClient : public PolicyClient {
 public:
  explicit GrpcPolicyClient(std::shared_ptr<grpc::Channel> channel);
  /// Cancels every call still running (their callers get kUnavailable), waits until gRPC
  /// has completed them, and stops the completion thread.
  ~GrpcPolicyClient() override;
  using PolicyClient::decide;
  /// Cancellable: a stream decision (HELO, AUTH, MAIL, RCPT) is forgotten and completed at
  /// once; a DATA decision's unary call is cancelled (TryCancel) and completes with it.
  awaitable<Decision> decide(gateway::v1::DecisionRequest request,
                             std::chrono::milliseconds timeout,
                             DecisionCancellation* cancellation) override;

  /// The completion queue the client's thread polls (every tag a common::CqStep), for the
  /// node's other gRPC calls (NodeAgent): one thread of the process polls gRPC's sockets.
  /// Valid until the client is destroyed; calls on it must end before.
  [[nodiscard]] grpc::CompletionQueue* completion_queue() { return completion_.cq(); }
  /// Whether gctld serves DecideBatches (RegisterNodeResponse.decide_batches, told by the
  /// NodeAgent at every Register): streams opened afterwards use it, else DecideStream.
  /// Default false, so a node never sends batches to a gctld that cannot read them.
  void set_decide_batches(bool served) { batched_.store(served, std::memory_order_relaxed); }

  /// One unary Decide in flight (DATA); defined in policy_client.cc.
  class UnaryCall;

 private:
  /// The open stream, or a new one when there is none or it broke.
  std::shared_ptr<DecisionStream> stream();
  /// Starts `call` (owned by the client until its Finish completed); `cancellation` (may be
  /// null) then cancels the gRPC call (its Finish completes with CANCELLED).
  void start_unary(UnaryCall* call, std::chrono::milliseconds timeout,
                   DecisionCancellation* cancellation);
  /// Called on the completion thread when `call` completed: forgets it.
  void unary_done(UnaryCall* call);

  std::unique_ptr<gateway::v1::DecisionService::Stub> stub_;
  GrpcCompletionThread completion_;
  std::mutex mu_;
  std::condition_variable idle_;                    // a stream or unary call finished
  std::shared_ptr<DecisionStream> stream_;          // the stream new decisions use
  std::vector<std::shared_ptr<DecisionStream>> streams_;  // every stream not yet finished
  std::unordered_map<UnaryCall*, std::uint64_t> unary_;  // unary calls in flight: their ids
  std::uint64_t next_unary_id_ = 0;  // guarded by mu_; tells a call from a later one at the
                                     // same address (DecisionCancellation)
  bool closing_ = false;
  std::atomic<bool> batched_{false};  // set_decide_batches
};

/// Converts a DecisionResponse: verdict → outcome, reply (defaults 550 5.7.1 / 451 4.3.0 when
/// the policy gave none, or gave a code or enhanced code of the wrong class) with
/// " (decision ID)" appended so operators can find the audit record from a bounce. The
/// reply is one line of at most 512 octets with its CRLF (RFC 5321 §4.5.3.1.5): the text
/// goes through common::printable_line (controls, NEL, U+2028/9, broken UTF-8 → '?') and is
/// shortened so that the decision id always fits. A 421 reply ends the session (the caller:
/// RFC 5321 §3.8).
Decision to_decision(const gateway::v1::DecisionResponse& response);

}  // namespace gw::dataplane

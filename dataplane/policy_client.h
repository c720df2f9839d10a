// The relay node's question to the policy decision point: one decision per handled command
// (DESIGN.md §2 "decision", §7 "Fail safe"; decision.proto).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "dataplane/asio.h"
#include "dataplane/decision_stream.h"
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

/// Asks for decisions. Implementations complete on the calling coroutine's executor and
/// never block it. `timeout` bounds the whole call (gRPC deadline).
class PolicyClient {
 public:
  virtual ~PolicyClient() = default;
  virtual awaitable<Decision> decide(gateway::v1::DecisionRequest request,
                                     std::chrono::milliseconds timeout) = 0;
};

/// DecisionService over gRPC with the callback API; gRPC threads only post results back to
/// the session's executor (STYLE.md). HELO, AUTH, MAIL and RCPT decisions share one
/// DecideStream (a DecisionStream, reopened when it broke): per decision that costs a
/// message each way instead of a whole HTTP/2 call. DATA decisions carry the message and
/// use unary Decide, so a large message never holds up the small decisions behind it.
/// `timeout` is enforced here with a timer on the session's executor (stream) or as the
/// gRPC deadline (unary); either way the session then gets kUnavailable. Thread-safe; one
/// instance serves all sessions of a node.
class GrpcPolicyClient : public PolicyClient {
 public:
  explicit GrpcPolicyClient(std::shared_ptr<grpc::Channel> channel);
  /// Closes the stream: calls still waiting fail with kUnavailable.
  ~GrpcPolicyClient() override;
  awaitable<Decision> decide(gateway::v1::DecisionRequest request,
                             std::chrono::milliseconds timeout) override;

 private:
  /// The open stream, or a new one when there is none or it broke.
  std::shared_ptr<DecisionStream> stream();

  std::unique_ptr<gateway::v1::DecisionService::Stub> stub_;
  std::mutex mu_;
  std::shared_ptr<DecisionStream> stream_;
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

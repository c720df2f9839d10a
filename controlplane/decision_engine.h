// The policy decision point (DESIGN.md §2 "decision", §6). Until handlers and policies
// exist (later issues) every valid request is answered "continue".
#pragma once

#include <string>

#include "controlplane/error.h"
#include "controlplane/snapshot_hub.h"
#include "gateway/v1/decision.pb.h"

namespace gw::controlplane {

/// Decides one SMTP command from the current configuration. Thread-safe and cheap: it
/// reads the hub's immutable Configuration and never touches the database.
class DecisionEngine {
 public:
  explicit DecisionEngine(const SnapshotHub& hub) : hub_(hub) {}

  /// Validates the request (a known service, a command HELO..DATA) and returns
  /// VERDICT_CONTINUE with a fresh decision id. Errors: kInvalidArgument.
  Result<gateway::v1::DecisionResponse> decide(const gateway::v1::DecisionRequest& request) const;

 private:
  const SnapshotHub& hub_;
};

/// A new random decision id, formatted as a UUID version 4 (RFC 4122 §4.4) from OpenSSL's
/// CSPRNG, so ids stay unique across restarts and nodes. Aborts if the CSPRNG fails.
std::string new_decision_id();

}  // namespace gw::controlplane

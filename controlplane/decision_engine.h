// The policy decision point (DESIGN.md §2 "decision", §5, §6): a node's DecisionRequest →
// the handler's compiled policy over the command's message attributes → a verdict, and the
// audit record of it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "controlplane/error.h"
#include "controlplane/policy/mime_message.h"
#include "controlplane/snapshot_hub.h"
#include "gateway/v1/config.pb.h"
#include "gateway/v1/decision.pb.h"
#include "gateway/v1/policy.pb.h"

namespace gw::controlplane {

/// One decision and its audit record (time, verdict, reply, final attributes; the caller
/// fills latency_us and submits it).
struct DecisionOutcome {
  gateway::v1::DecisionResponse response;
  gateway::v1::AuditRecord audit;
};

/// Decides SMTP commands from the hub's current Configuration. Thread-safe; never touches
/// the database. Costs microseconds, except a policy reaching attribute_authentication,
/// which costs one Argon2id verification (about 0.15 s, 64 MiB): callers run those
/// (is_slow()) off the gRPC threads.
/// Makes decision ids (new_decision_id() format). The random octets come from OpenSSL's
/// CSPRNG in blocks of kPoolBytes, so one RAND_bytes call serves 400 ids: a RAND_bytes call
/// per decision was 3% of gctld's CPU in the relay benchmark (session 12). Thread-safe;
/// aborts if the CSPRNG fails.
class DecisionIdSource {
 public:
  static constexpr std::size_t kPoolBytes = 4000;
  std::string next();

 private:
  static constexpr std::size_t kRandomOctets = 10;  // 74 random bits (+ version, variant)
  std::mutex mu_;
  std::array<unsigned char, kPoolBytes> pool_{};
  std::size_t used_ = kPoolBytes;  // empty until the first next()
};

class DecisionEngine {
 public:
  explicit DecisionEngine(const SnapshotHub& hub) : hub_(hub) {}

  /// Validates the request and evaluates the policy of the handler it names:
  /// - the service must be known and the command one of HELO..DATA (else kInvalidArgument);
  /// - handler_id must name a handler of that service and command in the current
  ///   configuration, and its policy must be loaded; otherwise (the node's snapshot is
  ///   older than a handler change, or a stored policy no longer compiles) the verdict is
  ///   TEMPFAIL 451 4.3.0 (AUTH: 454 4.7.0), fail safe, DESIGN.md §7. A request without a
  ///   handler (handler_id 0) continues: no handler means no policy (§5);
  /// - attributes: the request's, plus client.address (from client_address when absent),
  ///   smtp.rcpt.recipients (joined from `recipients`, RCPT and DATA), and for HELO the
  ///   handler's greeting template as smtp.helo.greeting;
  /// - DATA: the message is evaluated and, when a filter changed it, returned.
  /// Returns the response (decision id, verdict, reply, attribute changes) and the audit
  /// record (attributes without authentication.subject.password).
  Result<DecisionOutcome> decide(const gateway::v1::DecisionRequest& request) const;

  /// True if deciding `request` may cost an Argon2id verification (its handler's policy has
  /// an attribute_authentication filter).
  bool is_slow(const gateway::v1::DecisionRequest& request) const;

 private:
  const SnapshotHub& hub_;
  mutable DecisionIdSource ids_;
};

/// A new decision id: a UUID version 7 (RFC 9562 §5.7): the Unix time in ms, then 74 bits
/// from OpenSSL's CSPRNG, so ids stay unique across restarts and nodes. Time-ordered ids
/// land at the right edge of the audit table's unique index instead of at random pages:
/// with random version-4 ids the audit writer fell behind at 64 callers (7.8 s to drain
/// its queue after a 12 s decision_bench run; 1.2 s with version 7). Aborts if the CSPRNG
/// fails. One-off ids; DecisionEngine draws from a DecisionIdSource.
std::string new_decision_id();

/// The MIME caps of a service's limits (max_mime_parts, max_mime_depth,
/// max_mime_header_block; field case BR-29); a zero field keeps MimeLimits' default (1000
/// parts, 20 levels, 65,536 octets). DATA decisions parse the message under them.
policy::MimeLimits mime_limits_of(const gateway::v1::Limits& limits);

/// The policy engine's command for a handler's SMTP command (HELO covers EHLO; anything
/// unknown counts as DATA).
policy::Command to_policy_command(gateway::v1::SmtpCommand command);

}  // namespace gw::controlplane

// The decision point: handler → compiled policy → verdict, plus its audit record.
#include "controlplane/decision_engine.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include <string_view>
#include <vector>

#include "common/logging.h"
#include "controlplane/policy/policy_engine.h"
#include "dataplane/smtp/address.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

std::string DecisionIdSource::next() {
  std::array<unsigned char, 16> b{};
  {
    std::lock_guard lock(mu_);
    if (used_ + kRandomOctets > pool_.size()) {
      if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1) {
        std::fprintf(stderr, "new_decision_id: RAND_bytes failed\n");
        std::abort();
      }
      used_ = 0;
    }
    std::copy_n(pool_.begin() + static_cast<std::ptrdiff_t>(used_), kRandomOctets, b.begin() + 6);
    used_ += kRandomOctets;
  }
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (int i = 0; i < 6; ++i) b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += kHex[b[i] >> 4];
    id += kHex[b[i] & 0xf];
  }
  return id;
}

std::string new_decision_id() { return DecisionIdSource().next(); }

policy::MimeLimits mime_limits_of(const v1::Limits& limits) {
  policy::MimeLimits out;
  if (limits.max_mime_parts() != 0) out.max_parts = limits.max_mime_parts();
  if (limits.max_mime_depth() != 0) out.max_depth = limits.max_mime_depth();
  if (limits.max_mime_header_block() != 0) {
    out.max_header_block = limits.max_mime_header_block();
  }
  return out;
}

policy::Command to_policy_command(v1::SmtpCommand command) {
  switch (command) {
    case v1::SMTP_COMMAND_HELO:
      return policy::Command::kHelo;
    case v1::SMTP_COMMAND_AUTH:
      return policy::Command::kAuth;
    case v1::SMTP_COMMAND_MAIL:
      return policy::Command::kMail;
    case v1::SMTP_COMMAND_RCPT:
      return policy::Command::kRcpt;
    default:
      return policy::Command::kData;
  }
}

namespace {

v1::Verdict to_verdict(policy::Verdict verdict) {
  switch (verdict) {
    case policy::Verdict::kContinue:
      return v1::VERDICT_CONTINUE;
    case policy::Verdict::kReject:
      return v1::VERDICT_REJECT;
    case policy::Verdict::kTempfail:
      break;
  }
  return v1::VERDICT_TEMPFAIL;
}

// The fail-safe answer when the configuration a node decided from is not ours any more.
void tempfail(v1::DecisionResponse& response, v1::SmtpCommand command) {
  response.set_verdict(v1::VERDICT_TEMPFAIL);
  v1::SmtpReply* reply = response.mutable_reply();
  if (command == v1::SMTP_COMMAND_AUTH) {
    reply->set_code(454);
    reply->set_enhanced_code("4.7.0");
    reply->set_text("Temporary authentication failure, try again later");
  } else {
    reply->set_code(451);
    reply->set_enhanced_code("4.3.0");
    reply->set_text("Policy configuration is changing, try again later");
  }
}

// The handler the request names, if it still is what the node thinks it is.
const v1::Handler* current_handler(const Configuration& config,
                                   const v1::DecisionRequest& request) {
  const v1::Handler* handler = config.handler(request.handler_id());
  if (handler == nullptr || handler->service() != request.service() ||
      handler->command() != request.command()) {
    return nullptr;
  }
  return handler;
}

}  // namespace

bool DecisionEngine::is_slow(const v1::DecisionRequest& request) const {
  if (request.command() != v1::SMTP_COMMAND_AUTH && request.command() != v1::SMTP_COMMAND_DATA) {
    // attribute_authentication may sit in any policy, but only reads credentials, which
    // only AUTH carries; elsewhere it fails at once without hashing.
    auto config = hub_.current();
    const v1::Handler* handler = current_handler(*config, request);
    if (handler == nullptr) return false;
    auto compiled = config->policies->find(handler->policy());
    if (!compiled) return false;
    for (const auto& filter : compiled->filters()) {
      if (filter->type() == "attribute_authentication") return true;
    }
    return false;
  }
  return true;  // AUTH verifies passwords; DATA parses whole messages
}

Result<DecisionOutcome> DecisionEngine::decide(const v1::DecisionRequest& request) const {
  if (request.service().empty()) return fail(Code::kInvalidArgument, "service is required");
  if (!v1::SmtpCommand_IsValid(request.command()) ||
      request.command() == v1::SMTP_COMMAND_UNSPECIFIED) {
    return fail(Code::kInvalidArgument, "command " + std::to_string(request.command()) +
                                            " is not one of HELO, AUTH, MAIL, RCPT, DATA");
  }
  const std::shared_ptr<const Configuration> config = hub_.current();

  DecisionOutcome out;
  v1::DecisionResponse& response = out.response;
  v1::AuditRecord& audit = out.audit;
  response.set_decision_id(ids_.next());
  audit.set_decision_id(response.decision_id());
  audit.set_time_ms(unix_now_ms());
  audit.set_node_id(request.node_id());
  audit.set_session_id(request.session_id());
  audit.set_service(request.service());
  audit.set_interface_id(request.interface_id());
  audit.set_client_address(request.client_address());
  audit.set_command(request.command());
  audit.set_handler_id(request.handler_id());

  policy::Attributes attributes(request.attributes().begin(), request.attributes().end());
  if (!attributes.contains(policy::attr::kClientAddress) && !request.client_address().empty()) {
    std::string_view client = request.client_address();
    std::string ip(client.substr(0, client.rfind(':')));
    if (ip.size() >= 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
    attributes[std::string(policy::attr::kClientAddress)] = ip;
  }
  if (request.command() == v1::SMTP_COMMAND_RCPT || request.command() == v1::SMTP_COMMAND_DATA) {
    std::vector<std::string> recipients(request.recipients().begin(), request.recipients().end());
    attributes[std::string(policy::attr::kRcptRecipients)] = policy::join_recipients(recipients);
  }

  // The attributes are not used after it: their values move into the record.
  auto finish_audit = [&audit, &response](policy::Attributes& final_attributes) {
    audit.set_verdict(response.verdict());
    *audit.mutable_reply() = response.reply();
    auto& stored = *audit.mutable_attributes();
    for (auto& [name, value] : final_attributes) {
      if (name == policy::attr::kSubjectPassword) continue;  // never audited (DESIGN.md §7)
      stored[name] = std::move(value);
    }
  };

  if (!config->has_service(request.service())) {
    // A service deleted while the node's sessions run (or not yet known here): a decision,
    // 451 4.3.0 / 454 4.7.0 and audited, like a stale handler below. An error would read as
    // "control plane unavailable" on the node and a fail-open service would then skip its
    // policies (probe round 10).
    spdlog::warn("decision {}: service {} is not in configuration {}", response.decision_id(),
                 common::log_escape(request.service(), 80), config->version);
    tempfail(response, request.command());
    finish_audit(attributes);
    return out;
  }
  if (request.handler_id() == 0) {
    response.set_verdict(v1::VERDICT_CONTINUE);
    finish_audit(attributes);
    return out;
  }
  const v1::Handler* handler = current_handler(*config, request);
  std::shared_ptr<const policy::CompiledPolicy> compiled;
  if (handler != nullptr) {
    audit.set_policy(handler->policy());
    compiled = config->policies->find(handler->policy());
  }
  if (compiled == nullptr) {
    spdlog::warn("decision {}: handler {} of service {} ({}) is not in configuration {}{}",
                 response.decision_id(), request.handler_id(),
                 common::log_escape(request.service(), 80),
                 v1::SmtpCommand_Name(request.command()), config->version,
                 handler != nullptr ? " with a loaded policy" : "");
    tempfail(response, request.command());
    finish_audit(attributes);
    return out;
  }
  if (request.command() == v1::SMTP_COMMAND_HELO) {
    attributes[std::string(policy::attr::kHeloGreeting)] = handler->greeting();
  }

  std::string message;
  std::string* message_ptr = nullptr;
  policy::MimeLimits mime_limits;
  if (request.command() == v1::SMTP_COMMAND_DATA) {
    message = request.message();
    message_ptr = &message;
    if (const v1::Service* service = config->service(request.service())) {
      mime_limits = mime_limits_of(service->limits());
    }
  }
  policy::Decision decision =
      policy::evaluate(*compiled, to_policy_command(request.command()), attributes,
                       *config->users, message_ptr, mime_limits, request.eight_bit_allowed());
  response.set_verdict(to_verdict(decision.verdict));
  if (decision.verdict != policy::Verdict::kContinue) {
    v1::SmtpReply* reply = response.mutable_reply();
    reply->set_code(decision.reply.code);
    reply->set_enhanced_code(decision.reply.enhanced_code);
    reply->set_text(decision.reply.text);
  }
  if (request.command() == v1::SMTP_COMMAND_HELO) {
    // A rewrite the relay cannot send in its EHLO (RFC 5321 §4.1.1.1) is ignored there; it
    // is dropped here too, so the audit never shows a name the upstream did not get (probe
    // round 18). The audit's decision.reason says so.
    const std::string helo(policy::attr::kHeloDomain);
    if (auto it = decision.changes.find(helo);
        it != decision.changes.end() && !smtp::is_valid_helo_argument(it->second)) {
      // An internationalised name goes out as its A-labels: EHLO is ASCII (RFC 5321
      // §4.1.1.1, RFC 6531 §3.7.1; probe round 39: "bücher.example" was dropped).
      if (auto ascii = smtp::ascii_domain(it->second);
          ascii && smtp::is_valid_helo_argument(*ascii)) {
        it->second = *ascii;
        attributes[helo] = *ascii;
      }
    }
    if (auto it = decision.changes.find(helo);
        it != decision.changes.end() && !smtp::is_valid_helo_argument(it->second)) {
      const std::string note =
          "smtp.helo.domain rewrite ignored: not a domain or address literal";
      decision.reason = decision.reason.empty() ? note : decision.reason + "; " + note;
      decision.changes.erase(it);
      const auto sent = request.attributes().find(helo);
      attributes[helo] = sent == request.attributes().end() ? std::string() : sent->second;
    }
  }
  for (auto& [name, value] : decision.changes) {
    (*response.mutable_attribute_changes())[name] = value;
  }
  if (decision.message_replaced) {
    response.set_message_replaced(true);
    response.set_message(std::move(message));
  }
  finish_audit(attributes);
  if (!decision.reason.empty()) (*audit.mutable_attributes())["decision.reason"] = decision.reason;
  return out;
}

}  // namespace gw::controlplane

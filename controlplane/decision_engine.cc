// Decision API behaviour before policies exist: validate, then continue.
#include "controlplane/decision_engine.h"

#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "common/logging.h"

namespace gw::controlplane {

namespace v1 = gateway::v1;

std::string new_decision_id() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    std::fprintf(stderr, "new_decision_id: RAND_bytes failed\n");
    std::abort();
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
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

Result<v1::DecisionResponse> DecisionEngine::decide(const v1::DecisionRequest& request) const {
  if (request.service().empty()) return fail(Code::kInvalidArgument, "service is required");
  if (!v1::SmtpCommand_IsValid(request.command()) ||
      request.command() == v1::SMTP_COMMAND_UNSPECIFIED) {
    return fail(Code::kInvalidArgument, "command " + std::to_string(request.command()) +
                                            " is not one of HELO, AUTH, MAIL, RCPT, DATA");
  }
  if (!hub_.current()->has_service(request.service())) {
    return fail(Code::kInvalidArgument,
                "service \"" + common::log_escape(request.service(), 80) + "\" is not known");
  }
  v1::DecisionResponse response;
  response.set_decision_id(new_decision_id());
  response.set_verdict(v1::VERDICT_CONTINUE);
  return response;
}

}  // namespace gw::controlplane

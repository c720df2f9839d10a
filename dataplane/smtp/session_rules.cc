// State × command → allowed?
#include "dataplane/smtp/session_rules.h"

namespace gw::smtp {

std::optional<Reply> check_command_order(SessionState state, Verb verb) {
  switch (verb) {
    case Verb::kMail:
      if (state == SessionState::kConnected) {
        return make_reply(503, es::kInvalidCommand, "Send HELO/EHLO first");
      }
      if (state != SessionState::kGreeted) {
        return make_reply(503, es::kInvalidCommand, "Nested MAIL command");
      }
      return std::nullopt;
    case Verb::kRcpt:
      if (state != SessionState::kMail && state != SessionState::kRcpt) {
        return make_reply(503, es::kInvalidCommand, "Need MAIL before RCPT");
      }
      return std::nullopt;
    case Verb::kData:
      if (state == SessionState::kMail) {
        return make_reply(554, es::kInvalidCommand, "No valid recipients");
      }
      if (state != SessionState::kRcpt) {
        return make_reply(503, es::kInvalidCommand, "Need MAIL and RCPT before DATA");
      }
      return std::nullopt;
    case Verb::kBdat:
      return make_reply(502, es::kInvalidCommand, "BDAT not implemented");
    default:
      return std::nullopt;
  }
}

bool allowed_before_starttls(Verb verb) {
  switch (verb) {
    case Verb::kNoop:
    case Verb::kEhlo:
    case Verb::kStarttls:
    case Verb::kQuit:
    case Verb::kUnknown:
      return true;
    default:
      return false;
  }
}

}  // namespace gw::smtp

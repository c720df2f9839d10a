// Best-match handler selection.
#include "dataplane/handler_selector.h"

#include <algorithm>

#include "common/wildcard.h"
#include "dataplane/smtp/address.h"

namespace gw::dataplane {
namespace {

bool has_8bit(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return (c & 0x80) != 0; });
}

}  // namespace

const gateway::v1::Handler* select_handler(const gateway::v1::Service& service,
                                           gateway::v1::SmtpCommand command,
                                           std::string_view address) {
  const bool by_address =
      command == gateway::v1::SMTP_COMMAND_MAIL || command == gateway::v1::SMTP_COMMAND_RCPT;
  const gateway::v1::Handler* best = nullptr;
  common::WildcardSpecificity best_rank;
  for (const auto& h : service.handlers()) {
    if (h.command() != command) continue;
    if (!by_address) {
      if (!best || h.id() < best->id()) best = &h;
      continue;
    }
    // "<>" is the null sender, matched as the empty address (DESIGN.md §5): it beats "*"
    // (no literal characters either, but no "*").
    const std::string pattern =
        h.address().empty() ? std::string("*") : (h.address() == "<>" ? std::string() : h.address());
    // Case is ignored beyond ASCII too (DESIGN.md §5): "JÜRGEN@x" meets the handler for
    // "jürgen@x" (probe round 18: wildcard_match folds ASCII only, and it was let through).
    const bool non_ascii = has_8bit(pattern) || has_8bit(address);
    if (!(non_ascii ? common::wildcard_match(smtp::casefold(pattern), smtp::casefold(address))
                    : common::wildcard_match(pattern, address))) {
      continue;
    }
    auto rank = common::wildcard_specificity(pattern);
    if (!best || common::more_specific(rank, best_rank) ||
        (!common::more_specific(best_rank, rank) && h.id() < best->id())) {
      best = &h;
      best_rank = rank;
    }
  }
  return best;
}

}  // namespace gw::dataplane

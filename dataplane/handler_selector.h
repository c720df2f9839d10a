// Picks the handler of a service for one command (DESIGN.md §5 best match).
#pragma once

#include <string_view>

#include "gateway/v1/config.pb.h"

namespace gw::dataplane {

/// The handler of `service` for `command`, or nullptr if none applies. For MAIL and RCPT,
/// `address` is the mailbox ("" for the null sender) and the matching pattern with the most
/// literal characters wins, then the one with fewer "*", then the earliest created (lowest
/// id). For HELO, AUTH and DATA the earliest created handler of that command is used.
const gateway::v1::Handler* select_handler(const gateway::v1::Service& service,
                                           gateway::v1::SmtpCommand command,
                                           std::string_view address = {});

}  // namespace gw::dataplane

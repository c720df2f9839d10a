// The address pattern of a mail or rcpt handler, as stored and compared (DESIGN.md §5).
#pragma once

#include <string>

#include "controlplane/error.h"
#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

/// `pattern` (non-empty; "*" is the default) in the spelling the relay compares addresses
/// in (smtp::comparable_mailbox: quotes of a local part dropped, an address literal
/// canonical, A-labels as U-labels), so that a pattern written as the client would
/// ("x.y"@q.example, *@[IPv6:0:0:0:0:0:0:0:1], *@xn--caf-dma.example) matches, instead of
/// never matching while a deny handler looks in force (probe rounds 15 and 16). "<>" is the null sender (DESIGN.md §5), for MAIL only.
/// Errors (INVALID_ARGUMENT): "<>" on a rcpt handler (the relay refuses RCPT TO:<>, RFC
/// 5321 §4.1.1.3); a non-ASCII domain without "*" that is no U-label (lower case, NFC: RFC
/// 6531 §3.3, nothing the relay accepts could match it); a quoted local part with "*".
Result<std::string> comparable_pattern(gateway::v1::SmtpCommand command, const std::string& pattern);

}  // namespace gw::controlplane

// SASLprep (RFC 4013): the one spelling of a SASL user name or password that both sides
// compare, as RFC 4616 §2 recommends for PLAIN (and LOGIN, which carries the same strings).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gw::controlplane::policy {

/// Whether the string is being stored (the repository: code points unassigned in Unicode
/// 3.2 are refused, RFC 3454 §7) or compared against what is stored (a client's AUTH:
/// they are allowed).
enum class SaslprepUse { kStored, kQuery };

/// `text` (UTF-8) prepared with the SASLprep profile of stringprep (RFC 4013 §2, through
/// libidn's stringprep_profile): non-ASCII spaces mapped to SPACE, soft hyphens, zero-width
/// and other "mapped to nothing" characters removed, NFKC; nullopt when the result would
/// hold a prohibited character (control characters, private use, non-characters,
/// surrogates, tagging, change-display characters; RFC 4013 §2.3), fails the
/// bidirectional rule (§2.4), or, for kStored, an unassigned code point. Examples:
/// "ju\u0308rgen" -> "jürgen", "I\u00ADX" -> "IX", "\u2168" -> "IX", "a\tb" -> nullopt.
std::optional<std::string> saslprep(std::string_view text, SaslprepUse use);

}  // namespace gw::controlplane::policy

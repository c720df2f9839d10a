// Tests of one attribute's value: wildcard, regular expression, equality or CIDR, with
// `negate`. Used by the `match` and `body_match` filters and by every filter's `when`
// (DESIGN.md §6).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "controlplane/policy/attributes.h"
#include "controlplane/policy/cidr.h"
#include "controlplane/policy/result.h"

namespace re2 {
class RE2;
}

namespace gw::controlplane::policy {

/// How a condition compares.
enum class MatchOperator {
  kWildcard,  // gw::common::wildcard_match: whole value, "*" any run, ASCII case-insensitive
              // (Unicode case folding with fold_case)
  kRegex,     // RE2 syntax, case-sensitive unless the pattern says (?i)
  kEquals,    // exact, case-sensitive (case-folded on both sides with fold_case)
  kCidr,      // the value is an IP address ("ip", "ip:port", "[v6]:port") within a prefix
};

/// "wildcard", "regex", "equals" or "cidr": the YAML key of the operator.
std::string_view operator_name(MatchOperator op);

/// Three-valued result: kUnknown when the value cannot be compared at all (a CIDR test on
/// a value that is not an IP address, or on an attribute that is not set). Callers fail
/// closed on it: a `match` filter fails, a `when` does not skip its filter.
enum class Truth { kFalse, kTrue, kUnknown };

/// A compiled value test. Immutable and cheap to copy (the regex is shared); test() is
/// thread-safe.
class Matcher {
 public:
  /// Compiles `pattern` for `op`. `whole_value` anchors a regex at both ends and reads
  /// values as UTF-8 (used by `match` and `when`, like wildcard and equals); without it a
  /// regex matches anywhere and reads octets as Latin-1, so binary bodies and "\x90"
  /// escapes work (used by `body_match`, over a long, possibly binary body). Errors (one-line
  /// reason): a bad regex (RE2's message), a pattern over 4096 octets, a bad CIDR.
  /// `fold_case` (wildcard and equals only) compares pattern and value after Unicode
  /// lowercase mapping (smtp::casefold): for mailboxes and domains, which compare in
  /// any case (RFC 5321 §2.4, DESIGN.md §5).
  static Result<Matcher, std::string> make(MatchOperator op, std::string_view pattern,
                                           bool whole_value, bool fold_case = false);

  /// Compares `value`; `present` is false when the attribute is not set (then the value is
  /// taken as "" for text operators, and a CIDR test is kUnknown).
  Truth test(std::string_view value, bool present) const;

  MatchOperator op() const { return op_; }
  const std::string& pattern() const { return pattern_; }

 private:
  MatchOperator op_ = MatchOperator::kEquals;
  std::string pattern_;
  std::string folded_;  // casefold(pattern_) when fold_case_
  bool whole_value_ = true;
  bool fold_case_ = false;
  std::shared_ptr<const re2::RE2> regex_;
  std::optional<Cidr> cidr_;
};

/// An attribute, a matcher and `negate`.
struct Condition {
  std::string attribute;
  Matcher matcher;
  bool negate = false;
  /// Compare the value in smtp::comparable_domain() spelling (the pattern was compiled in
  /// it too): set for equals and wildcard on smtp.helo.domain, so "[IPv6:::ffff:192.0.2.1]"
  /// meets "[192.0.2.1]" and "mx.xn--bcher-kva.example" meets "*.bücher.example", as
  /// mailboxes do (probe round 45).
  bool comparable_domain = false;
  /// With comparable_domain: the pattern as written, tested against the value as sent; the
  /// condition holds when either spelling matches.
  std::optional<Matcher> raw_matcher;

  /// kTrue/kFalse after `negate`; kUnknown stays kUnknown whatever `negate` says.
  Truth evaluate(const Attributes& attributes) const;

  /// "smtp.mail.from wildcard \"*@example.com\"" (with " negated"), for reasons.
  std::string describe() const;
};

/// The longest pattern accepted (octets).
inline constexpr std::size_t kMaxPatternLength = 4096;

}  // namespace gw::controlplane::policy

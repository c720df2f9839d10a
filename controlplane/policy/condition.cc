// Matcher compilation (RE2, CIDR) and three-valued condition evaluation.
#include "controlplane/policy/condition.h"

#include <re2/re2.h>

#include "common/wildcard.h"
#include "dataplane/smtp/address.h"

namespace gw::controlplane::policy {

std::string_view operator_name(MatchOperator op) {
  switch (op) {
    case MatchOperator::kWildcard:
      return "wildcard";
    case MatchOperator::kRegex:
      return "regex";
    case MatchOperator::kEquals:
      return "equals";
    case MatchOperator::kCidr:
      return "cidr";
  }
  return "?";
}

Result<Matcher, std::string> Matcher::make(MatchOperator op, std::string_view pattern,
                                           bool whole_value, bool fold_case) {
  using boost::outcome_v2::failure;
  if (pattern.size() > kMaxPatternLength) {
    return failure(std::string(operator_name(op)) + " pattern is longer than " +
                   std::to_string(kMaxPatternLength) + " octets");
  }
  Matcher m;
  m.op_ = op;
  m.pattern_ = std::string(pattern);
  m.whole_value_ = whole_value;
  m.fold_case_ = fold_case && (op == MatchOperator::kWildcard || op == MatchOperator::kEquals);
  if (m.fold_case_) m.folded_ = smtp::casefold(pattern);
  if (op == MatchOperator::kRegex) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(8 << 20);  // bounds the compiled program and DFA cache per regex
    // A body is bytes (a decoded attachment is binary): searched as Latin-1, every octet is
    // one character and "\x90" matches the octet 0x90. UTF-8 literals still match
    // byte for byte. Attribute values are text and are matched as UTF-8.
    if (!whole_value) options.set_encoding(RE2::Options::EncodingLatin1);
    auto re =
        std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
    if (!re->ok()) return failure("bad regex \"" + m.pattern_ + "\": " + re->error());
    m.regex_ = std::move(re);
  } else if (op == MatchOperator::kCidr) {
    auto cidr = Cidr::parse(pattern);
    if (!cidr) return failure(cidr.error());
    m.cidr_ = cidr.value();
  }
  return m;
}

Truth Matcher::test(std::string_view value, bool present) const {
  auto truth = [](bool b) { return b ? Truth::kTrue : Truth::kFalse; };
  switch (op_) {
    case MatchOperator::kWildcard:
      if (fold_case_) return truth(common::wildcard_match(folded_, smtp::casefold(value)));
      return truth(common::wildcard_match(pattern_, value));
    case MatchOperator::kEquals:
      if (fold_case_) return truth(smtp::casefold(value) == folded_);
      return truth(value == pattern_);
    case MatchOperator::kRegex: {
      const re2::StringPiece text(value.data(), value.size());
      return truth(whole_value_ ? RE2::FullMatch(text, *regex_) : RE2::PartialMatch(text, *regex_));
    }
    case MatchOperator::kCidr: {
      if (!present) return Truth::kUnknown;
      const auto address = parse_ip_address(value);
      if (!address) return Truth::kUnknown;
      return truth(cidr_->contains(*address));
    }
  }
  return Truth::kUnknown;
}

Truth Condition::evaluate(const Attributes& attributes) const {
  const auto it = attributes.find(attribute);
  const bool present = it != attributes.end();
  std::string comparable;
  if (present && comparable_domain) comparable = smtp::comparable_domain(it->second);
  Truth t = matcher.test(
      !present ? std::string_view() : comparable_domain ? comparable : std::string_view(it->second),
      present);
  if (t == Truth::kFalse && raw_matcher && present) {
    t = raw_matcher->test(it->second, present);
  }
  if (t == Truth::kUnknown || !negate) return t;
  return t == Truth::kTrue ? Truth::kFalse : Truth::kTrue;
}

std::string Condition::describe() const {
  // A pattern compared with the password would be a password itself: never print it.
  const std::string shown = attribute == attr::kSubjectPassword ? "(redacted)" : matcher.pattern();
  std::string out =
      attribute + " " + std::string(operator_name(matcher.op())) + " \"" + shown + "\"";
  if (negate) out += " negated";
  return out;
}

}  // namespace gw::controlplane::policy

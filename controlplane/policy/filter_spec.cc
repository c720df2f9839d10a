// Typed, strict access to YAML filter maps.
#include "controlplane/policy/filter_spec.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "dataplane/smtp/address.h"

namespace gw::controlplane::policy {

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

FilterSpec::FilterSpec(const YAML::Node& map, std::string what,
                       const std::vector<std::string_view>& allowed)
    : map_(map), what_(std::move(what)) {
  if (!map_.IsMap()) throw CompileFailure(line(), what_ + " must be a map of keys and values");
  std::set<std::string, std::less<>> seen;
  for (auto it = map_.begin(); it != map_.end(); ++it) {
    if (!it->first.IsScalar()) {
      throw CompileFailure(line_of(it->first), "keys of a " + what_ + " must be strings");
    }
    const std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      throw CompileFailure(line_of(it->first), "duplicate key \"" + key + "\" in a " + what_);
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw CompileFailure(line_of(it->first), "unknown key \"" + key + "\" in a " + what_);
    }
  }
}

// Const access only: yaml-cpp's non-const operator[] may add the key to the map.
YAML::Node FilterSpec::get(std::string_view key) const {
  const YAML::Node& map = map_;
  return map[std::string(key)];
}

bool FilterSpec::has(std::string_view key) const { return get(key).IsDefined(); }

int FilterSpec::line(std::string_view key) const {
  const YAML::Node value = get(key);
  const int l = value.IsDefined() ? line_of(value) : 0;
  return l > 0 ? l : line();
}

void FilterSpec::fail(std::string_view key, const std::string& reason) const {
  throw CompileFailure(line(key), reason);
}

YAML::Node FilterSpec::node(std::string_view key) const { return get(key); }

std::optional<std::string> FilterSpec::optional_string(std::string_view key) const {
  const YAML::Node value = node(key);
  if (!value.IsDefined()) return std::nullopt;
  if (!value.IsScalar()) {
    fail(key, "\"" + std::string(key) + "\" of a " + what_ +
                  " must be a string (use \"\" for an empty one)");
  }
  return value.Scalar();
}

std::string FilterSpec::string(std::string_view key) const {
  auto value = optional_string(key);
  if (!value) fail(key, "a " + what_ + " needs \"" + std::string(key) + "\"");
  return *value;
}

bool FilterSpec::boolean(std::string_view key, bool fallback) const {
  auto value = optional_string(key);
  if (!value) return fallback;
  // The YAML 1.2 core schema's spellings (probe round 17: "False" was refused).
  if (*value == "true" || *value == "True" || *value == "TRUE") return true;
  if (*value == "false" || *value == "False" || *value == "FALSE") return false;
  fail(key, "\"" + std::string(key) + "\" of a " + what_ + " must be true or false");
}

std::uint64_t FilterSpec::unsigned_integer(std::string_view key) const {
  const std::string text = string(key);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      value > (std::uint64_t{1} << 53)) {
    fail(key,
         "\"" + std::string(key) + "\" of a " + what_ + " must be a non-negative whole number");
  }
  return value;
}

std::string comparable_address_pattern(const std::string& pattern) {
  if (pattern.find('*') == std::string::npos) return smtp::comparable_mailbox(pattern);
  const std::size_t at = pattern.rfind('@');
  if (at == std::string::npos) return pattern;
  return pattern.substr(0, at + 1) +
         smtp::comparable_domain(std::string_view(pattern).substr(at + 1));
}

Condition read_condition(FilterSpec& spec, std::string_view fixed_attribute, bool whole_value,
                         std::initializer_list<MatchOperator> allowed) {
  Condition condition;
  if (fixed_attribute.empty()) {
    condition.attribute = spec.string("attribute");
    if (!is_valid_attribute_name(condition.attribute)) {
      spec.fail("attribute", "\"" + condition.attribute +
                                 "\" is not an attribute name (letters, digits, '.', '_', '-')");
    }
    if (auto builtin = misspelled_builtin(condition.attribute)) {
      spec.fail("attribute", "\"" + condition.attribute +
                                 "\" is never set (not a built-in attribute; names are "
                                 "case-sensitive); did you mean " + std::string(*builtin) + "?");
    }
  } else {
    condition.attribute = std::string(fixed_attribute);
  }
  std::optional<MatchOperator> op;
  std::string pattern;
  std::string names;
  for (MatchOperator candidate : allowed) {
    const std::string_view key = operator_name(candidate);
    names += (names.empty() ? "" : ", ") + std::string(key);
    if (auto value = spec.optional_string(key)) {
      if (op) {
        spec.fail(key, "a " + spec.what() + " takes exactly one of " +
                           std::string("the operators, found both \"") +
                           std::string(operator_name(*op)) + "\" and \"" + std::string(key) + "\"");
      }
      op = candidate;
      pattern = std::move(*value);
    }
  }
  if (!op) spec.fail("", "a " + spec.what() + " needs one of: " + names);
  const bool address = condition.attribute == attr::kMailFrom ||
                       condition.attribute == attr::kRcptTo;
  const bool textual = *op == MatchOperator::kEquals || *op == MatchOperator::kWildcard;
  if (address && textual) pattern = comparable_address_pattern(pattern);
  // The HELO domain too is one name in many spellings (address literal forms, A- and
  // U-labels): both sides are compared in comparable_domain() form.
  const bool helo_domain = textual && condition.attribute == attr::kHeloDomain;
  if (helo_domain) {
    // A pattern no canonical spelling can match ("[IPv6:2001:db8:0:0:*]", "xn--*") still
    // meets the value as sent (probe round 46: such a deny rule stopped matching anything).
    auto raw = Matcher::make(*op, pattern, whole_value, /*fold_case=*/true);
    if (!raw) spec.fail(operator_name(*op), raw.error());
    condition.raw_matcher = std::move(raw).value();
    pattern = smtp::comparable_domain(pattern);
  }
  condition.comparable_domain = helo_domain;
  // Mailboxes and domains compare in any case, as handler selection does (DESIGN.md §5,
  // RFC 5321 §2.4): equals "ceo@example.com" also stops CEO@EXAMPLE.COM, and wildcard
  // "jürgen@*" also JÜRGEN@... (probe round 19). A regex sees the value as sent.
  const bool fold_case = textual && (address || condition.attribute == attr::kRcptRecipients ||
                                     condition.attribute == attr::kHeloDomain);
  auto matcher = Matcher::make(*op, pattern, whole_value, fold_case);
  if (!matcher) spec.fail(operator_name(*op), matcher.error());
  condition.matcher = std::move(matcher).value();
  condition.negate = spec.boolean("negate", false);
  return condition;
}

}  // namespace gw::controlplane::policy

// Strict reading of one filter's YAML map at compile time: typed fields, line numbers
// for errors, unknown keys refused so that typos never switch a check off.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/policy/condition.h"

namespace gw::controlplane::policy {

/// A compile error inside the filter list; `line` is 1-based in the filters YAML (0 when
/// unknown). Thrown only while compiling, caught by compile_policy.
class CompileFailure : public std::runtime_error {
 public:
  CompileFailure(int line, const std::string& reason) : std::runtime_error(reason), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

/// 1-based line of a YAML node (yaml-cpp marks are 0-based), 0 if it has none.
int line_of(const YAML::Node& node);

/// One YAML map read key by key. Errors throw CompileFailure with the offending line.
class FilterSpec {
 public:
  /// `what` names the map in messages: "match filter", "when condition". Throws if `map`
  /// is not a map, has a non-string or duplicate key, or — when `allowed` is not empty — a
  /// key outside `allowed` (checked before any value, so a typo is reported as such).
  FilterSpec(const YAML::Node& map, std::string what,
             const std::vector<std::string_view>& allowed = {});

  bool has(std::string_view key) const;
  /// The scalar value of a required key; the empty string is allowed, null is not.
  std::string string(std::string_view key) const;
  /// The scalar value of an optional key.
  std::optional<std::string> optional_string(std::string_view key) const;
  /// An optional "true"/"false" value.
  bool boolean(std::string_view key, bool fallback) const;
  /// A required decimal integer in 0..2^53.
  std::uint64_t unsigned_integer(std::string_view key) const;
  /// The raw node of an optional key; undefined if absent.
  YAML::Node node(std::string_view key) const;

  /// Line of `key`'s value, or of the map when the key is absent.
  int line(std::string_view key) const;
  int line() const { return line_of(map_); }
  const std::string& what() const { return what_; }

  [[noreturn]] void fail(std::string_view key, const std::string& reason) const;

 private:
  YAML::Node get(std::string_view key) const;

  YAML::Node map_;
  std::string what_;
};

/// The keys of a condition map (`when`).
inline const std::vector<std::string_view> kConditionKeys = {"attribute", "wildcard", "regex",
                                                             "equals",    "cidr",     "negate"};

/// `pattern` (an `equals` or `wildcard` value for smtp.mail.from / smtp.rcpt.to) in the
/// spelling the relay sends those attributes in (smtp::comparable_mailbox: quotes of a local
/// part dropped, address literals canonical, A-labels as U-labels; with "*", only the
/// domain's labels are converted). A rule written as clients spell the address, such as
/// "*@xn--bcher-kva.example", then matches instead of silently never matching (probe 18).
std::string comparable_address_pattern(const std::string& pattern);

/// Reads a condition from `spec`: the attribute (the "attribute" key, or `fixed_attribute`
/// when given, e.g. content.body for body_match), exactly one of the `allowed` operator keys,
/// and "negate". `whole_value` as in Matcher::make. An `equals` or `wildcard` value for
/// smtp.mail.from or smtp.rcpt.to is taken in comparable_address_pattern's spelling; a
/// regex sees the attribute as the relay sends it (see policy/README.md).
Condition read_condition(FilterSpec& spec, std::string_view fixed_attribute, bool whole_value,
                         std::initializer_list<MatchOperator> allowed);

}  // namespace gw::controlplane::policy

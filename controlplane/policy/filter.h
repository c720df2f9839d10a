// The filter interface of the policy engine and the state one evaluation threads through
// its filters (DESIGN.md §6: ordered filters, first failure ends the policy, `when`).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controlplane/policy/attributes.h"
#include "controlplane/policy/condition.h"
#include "controlplane/policy/mime_message.h"
#include "controlplane/policy/user_directory.h"

namespace gw::controlplane::policy {

/// Everything a filter may read or change during one evaluation. Lives on the evaluating
/// thread's stack for one evaluate() call.
struct EvaluationState {
  Command command;
  Attributes& attributes;
  const UserDirectory& users;
  std::string_view message;              // DATA: the whole message (headers + body); else empty
  bool has_message = false;              // true for DATA
  std::vector<HeaderEdit> header_edits;  // add_header / remove_header, in order
  std::set<std::string, std::less<>> written;  // attributes set_attribute wrote
};

/// What one filter concluded. `reason` explains a failure for the audit trail and logs:
/// it names attributes and configured patterns, never an attribute's value.
struct FilterOutcome {
  bool passed = true;
  std::string reason;

  static FilterOutcome pass() { return {}; }
  static FilterOutcome fail(std::string reason) { return {false, std::move(reason)}; }
};

/// One compiled filter. Immutable after compilation; apply() is thread-safe.
class Filter {
 public:
  virtual ~Filter() = default;

  /// The YAML type name ("match", "set_attribute", ...).
  virtual std::string_view type() const = 0;

  /// Runs the filter. Never throws.
  virtual FilterOutcome apply(EvaluationState& state) const = 0;

  /// True if the filter may write attribute `name`.
  virtual bool writes_attribute(std::string_view /*name*/) const { return false; }

  /// The `when` condition: the filter is skipped when it is kFalse (kTrue and kUnknown
  /// run it: a condition that cannot be decided never switches a check off).
  const std::optional<Condition>& when() const { return when_; }
  void set_when(std::optional<Condition> when) { when_ = std::move(when); }

 private:
  std::optional<Condition> when_;
};

}  // namespace gw::controlplane::policy

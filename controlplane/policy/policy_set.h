// The compiled policies of one configuration snapshot, by name (DESIGN.md §9: decisions
// read policies cached in memory).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/policy/compiled_policy.h"

namespace gw::controlplane::policy {

/// One policy as configured (the fields of gateway.v1.Policy the engine needs).
struct PolicySource {
  std::string name;
  std::string reply;         // "" or "NNN X.Y.Z text"
  std::string filters_yaml;  // YAML list of filter maps
};

struct PolicySetBuild;

/// Name → compiled policy. Immutable once built; find() is thread-safe, and the policies
/// it returns stay valid as long as the caller holds the shared_ptr, even after the set
/// is replaced by a newer snapshot.
class PolicySet {
 public:
  /// The policy called `name` (exact), or null.
  std::shared_ptr<const CompiledPolicy> find(std::string_view name) const;

  std::size_t size() const { return policies_.size(); }
  /// Policy names in ascending order.
  std::vector<std::string> names() const;

 private:
  friend PolicySetBuild build_policy_set(const std::vector<PolicySource>& sources);
  std::map<std::string, std::shared_ptr<const CompiledPolicy>, std::less<>> policies_;
};

/// A built set and every error found on the way.
struct PolicySetBuild {
  PolicySet policies;                // every policy that compiled
  std::vector<CompileError> errors;  // in source order; empty means all compiled
};

/// Compiles every source, collecting all errors instead of stopping at the first (an
/// apply reports them all at once). A second policy with a name already used is an error
/// and is left out. The caller decides what errors mean: `gctl apply` refuses the whole
/// document, a snapshot built from stored (already validated) policies keeps the others.
PolicySetBuild build_policy_set(const std::vector<PolicySource>& sources);

}  // namespace gw::controlplane::policy

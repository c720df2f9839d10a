// Building a PolicySet with all compile errors collected.
#include "controlplane/policy/policy_set.h"

namespace gw::controlplane::policy {

std::shared_ptr<const CompiledPolicy> PolicySet::find(std::string_view name) const {
  const auto it = policies_.find(name);
  return it == policies_.end() ? nullptr : it->second;
}

std::vector<std::string> PolicySet::names() const {
  std::vector<std::string> out;
  out.reserve(policies_.size());
  for (const auto& [name, policy] : policies_) out.push_back(name);
  return out;
}

PolicySetBuild build_policy_set(const std::vector<PolicySource>& sources) {
  PolicySetBuild build;
  for (const auto& source : sources) {
    auto compiled = compile_policy(source.name, source.reply, source.filters_yaml);
    if (!compiled) {
      build.errors.push_back(compiled.error());
      continue;
    }
    if (build.policies.policies_.contains(source.name)) {
      build.errors.push_back(
          {source.name, 0, 0, "policy \"" + source.name + "\" is declared twice"});
      continue;
    }
    build.policies.policies_.emplace(source.name, std::move(compiled).value());
  }
  return build;
}

}  // namespace gw::controlplane::policy

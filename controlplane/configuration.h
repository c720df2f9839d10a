// The immutable in-memory configuration: one ConfigSnapshot per instance plus indexes,
// replaced as a whole on every change (STYLE.md: shared_ptr<const Snapshot>, swapped).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "controlplane/policy/policy_set.h"
#include "controlplane/policy/user_directory.h"
#include "gateway/v1/config.pb.h"

namespace gw::controlplane {

/// One version of the whole configuration. Never modified after it is published: readers
/// on any thread hold a shared_ptr<const Configuration> as long as they need it.
struct Configuration {
  /// The configuration version (storage config_version) this object was built at. Each
  /// instance snapshot carries the version of the last change that concerned it, so
  /// snapshots[i]->version() <= version.
  std::uint64_t version = 0;
  /// Snapshot per instance that has (or had) services. Snapshots carry upstream passwords.
  std::map<std::string, std::shared_ptr<const gateway::v1::ConfigSnapshot>, std::less<>> instances;
  /// Service name -> instance name, for the decision API.
  std::map<std::string, std::string, std::less<>> service_instances;
  /// Handler id -> handler (service, command, policy, greeting, address), every instance:
  /// the decision API finds the policy of the handler a node selected (DESIGN.md §5).
  std::map<std::int64_t, gateway::v1::Handler> handlers;
  /// Every stored policy, compiled (DESIGN.md §9: decisions read policies from memory).
  /// Never null.
  std::shared_ptr<const policy::PolicySet> policies = std::make_shared<policy::PolicySet>();
  /// The authentication repository: user name -> password hash. Never null.
  std::shared_ptr<const policy::UserDirectory> users =
      std::make_shared<policy::MapUserDirectory>();

  /// The handler with `id`, or null.
  const gateway::v1::Handler* handler(std::int64_t id) const {
    auto it = handlers.find(id);
    return it == handlers.end() ? nullptr : &it->second;
  }

  /// The snapshot of `instance`, or null when no service ever ran there.
  std::shared_ptr<const gateway::v1::ConfigSnapshot> snapshot(std::string_view instance) const {
    auto it = instances.find(instance);
    return it == instances.end() ? nullptr : it->second;
  }

  /// The version a node of `instance` runs: its snapshot's, or `version` for an instance
  /// without a snapshot (its empty configuration is current as of now).
  std::uint64_t instance_version(std::string_view instance) const {
    auto snap = snapshot(instance);
    return snap ? snap->version() : version;
  }

  bool has_service(std::string_view name) const {
    return service_instances.find(name) != service_instances.end();
  }

  /// The service `name` as its instance's snapshot holds it (limits filled in), or null.
  /// A walk over that instance's services: for DATA decisions, which parse the message.
  const gateway::v1::Service* service(std::string_view name) const {
    auto it = service_instances.find(name);
    if (it == service_instances.end()) return nullptr;
    auto snap = snapshot(it->second);
    if (!snap) return nullptr;
    for (const gateway::v1::Service& s : snap->services()) {
      if (s.name() == name) return &s;
    }
    return nullptr;
  }
};

}  // namespace gw::controlplane

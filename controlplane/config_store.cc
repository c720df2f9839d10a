// Admin changes to services and interfaces, each followed by a snapshot publication.
#include "controlplane/config_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "common/logging.h"
#include "controlplane/service_defaults.h"
#include "controlplane/service_update.h"
#include "controlplane/validation.h"

namespace gw::controlplane {
namespace {

namespace v1 = gateway::v1;
using storage::PasswordChange;
using storage::Secrets;

// Admin answers never carry the password, whatever a caller put in.
v1::Service without_secret(v1::Service service) {
  service.clear_password();
  return service;
}

void clear_output_only(v1::Service& service) {
  service.clear_has_password();
  service.clear_interfaces();
  service.clear_created_at_ms();
  service.clear_updated_at_ms();
}

}  // namespace

ConfigStore::ConfigStore(storage::Database& db, const storage::SecretBox& secrets, SnapshotHub& hub)
    : db_(db), services_(db, secrets), interfaces_(db), versions_(db), hub_(hub) {
  auto version = versions_.current();
  if (!version) throw std::runtime_error("cannot read config version: " + version.error().message);
  auto all = services_.list("", Secrets::kOmit);
  if (!all) throw std::runtime_error("cannot read services: " + all.error().message);
  std::set<std::string> instances;
  for (const v1::Service& s : all.value()) instances.insert(s.instance());

  auto config = std::make_shared<Configuration>();
  config->version = version.value();
  for (const std::string& instance : instances) {
    auto snapshot = build_snapshot(version.value(), instance);
    if (!snapshot) {
      throw std::runtime_error("cannot build snapshot of instance " + instance + ": " +
                               snapshot.error().message);
    }
    for (const v1::Service& s : snapshot.value()->services()) {
      config->service_instances[s.name()] = instance;
    }
    config->instances[instance] = std::move(snapshot).value();
  }
  spdlog::info("configuration version {} loaded: {} services in {} instances", config->version,
               all.value().size(), instances.size());
  hub_.publish(std::move(config), {});
}

Result<std::shared_ptr<const v1::ConfigSnapshot>> ConfigStore::build_snapshot(
    std::uint64_t version, const std::string& instance) {
  auto services = services_.list(instance, Secrets::kInclude);
  if (!services) return from_storage(services.error());
  auto interfaces = interfaces_.list_by_instance(instance);
  if (!interfaces) return from_storage(interfaces.error());

  auto snapshot = std::make_shared<v1::ConfigSnapshot>();
  snapshot->set_version(version);
  snapshot->set_instance(instance);
  std::map<std::string, v1::Service*, std::less<>> by_name;
  for (v1::Service& s : services.value()) {
    v1::Service* added = snapshot->add_services();
    *added = std::move(s);
    by_name[added->name()] = added;
  }
  for (v1::Interface& iface : interfaces.value()) {
    auto it = by_name.find(iface.service());
    if (it != by_name.end()) *it->second->add_interfaces() = std::move(iface);
  }
  return std::shared_ptr<const v1::ConfigSnapshot>(std::move(snapshot));
}

Result<void> ConfigStore::commit_change(storage::Transaction& tx,
                                        std::vector<std::string> instances) {
  std::sort(instances.begin(), instances.end());
  instances.erase(std::unique(instances.begin(), instances.end()), instances.end());

  auto version = versions_.bump();
  if (!version) return from_storage(version.error());
  // Only this thread publishes, so the configuration cannot change under us.
  auto next = std::make_shared<Configuration>(*hub_.current());
  next->version = version.value();
  for (const std::string& instance : instances) {
    auto snapshot = build_snapshot(version.value(), instance);
    if (!snapshot) return snapshot.as_failure();
    next->instances[instance] = std::move(snapshot).value();
  }
  next->service_instances.clear();
  for (const auto& [instance, snapshot] : next->instances) {
    for (const v1::Service& s : snapshot->services()) next->service_instances[s.name()] = instance;
  }
  if (auto committed = tx.commit(); !committed) return from_storage(committed.error());
  hub_.publish(std::move(next), instances);
  return ok();
}

Result<void> ConfigStore::attach_interfaces(std::vector<v1::Service>& services,
                                            std::string_view service_filter) {
  auto interfaces = interfaces_.list(service_filter);
  if (!interfaces) return from_storage(interfaces.error());
  std::map<std::string, v1::Service*, std::less<>> by_name;
  for (v1::Service& s : services) by_name[s.name()] = &s;
  for (v1::Interface& iface : interfaces.value()) {
    auto it = by_name.find(iface.service());
    if (it != by_name.end()) *it->second->add_interfaces() = std::move(iface);
  }
  return ok();
}

Result<v1::Service> ConfigStore::create_service(v1::Service request) {
  clear_output_only(request);
  fill_service_defaults(request);
  if (auto valid = validate_service(request); !valid) return valid.as_failure();

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto created = services_.create(request, unix_now_ms());
  if (!created) return from_storage(created.error());
  if (auto done = commit_change(tx.value(), {request.instance()}); !done) return done.as_failure();
  spdlog::info("service {} created in instance {} (version {})", created.value().name(),
               created.value().instance(), hub_.current()->version);
  return without_secret(std::move(created).value());
}

Result<v1::Service> ConfigStore::get_service(std::string_view name) {
  auto service = services_.get(name, Secrets::kOmit);
  if (!service) return from_storage(service.error());
  std::vector<v1::Service> one{std::move(service).value()};
  if (auto attached = attach_interfaces(one, name); !attached) return attached.as_failure();
  return without_secret(std::move(one.front()));
}

Result<std::vector<v1::Service>> ConfigStore::list_services(std::string_view instance) {
  auto services = services_.list(instance, Secrets::kOmit);
  if (!services) return from_storage(services.error());
  if (auto attached = attach_interfaces(services.value(), ""); !attached) {
    return attached.as_failure();
  }
  return std::move(services).value();
}

Result<v1::Service> ConfigStore::update_service(const v1::Service& patch,
                                                const google::protobuf::FieldMask& mask) {
  if (patch.name().empty()) return fail(Code::kInvalidArgument, "service name is required");
  auto current = services_.get(patch.name(), Secrets::kOmit);
  if (!current) return from_storage(current.error());
  auto merged = merge_service_update(current.value(), patch, mask);
  if (!merged) return merged.as_failure();
  v1::Service& service = merged.value().service;
  clear_output_only(service);
  fill_service_defaults(service);
  if (auto valid = validate_service(service); !valid) return valid.as_failure();

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto updated = services_.update(
      service, merged.value().password_changed ? PasswordChange::kReplace : PasswordChange::kKeep,
      unix_now_ms());
  if (!updated) return from_storage(updated.error());
  if (auto done = commit_change(tx.value(), {current.value().instance(), service.instance()});
      !done) {
    return done.as_failure();
  }
  spdlog::info("service {} updated (version {})", service.name(), hub_.current()->version);
  return get_service(service.name());
}

Result<void> ConfigStore::delete_service(std::string_view name) {
  if (name.empty()) return fail(Code::kInvalidArgument, "service name is required");
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto current = services_.get(name, Secrets::kOmit);
  if (!current) return from_storage(current.error());
  if (auto removed = services_.remove(name); !removed) return from_storage(removed.error());
  if (auto done = commit_change(tx.value(), {current.value().instance()}); !done) return done;
  spdlog::info("service {} deleted with its interfaces (version {})", current.value().name(),
               hub_.current()->version);
  return ok();
}

Result<v1::Interface> ConfigStore::create_interface(v1::Interface request) {
  request.clear_id();
  fill_interface_defaults(request);
  if (auto valid = validate_interface(request); !valid) return valid.as_failure();

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto owner = services_.get(request.service(), Secrets::kOmit);
  if (!owner) return from_storage(owner.error());
  auto created = interfaces_.create(request, unix_now_ms());
  if (!created) return from_storage(created.error());
  if (auto done = commit_change(tx.value(), {owner.value().instance()}); !done) {
    return done.as_failure();
  }
  spdlog::info("interface {} created: {} {} for service {} (version {})", created.value().id(),
               storage::format_endpoint(created.value().bind_address(), created.value().port()),
               v1::InterfaceType_Name(created.value().type()), created.value().service(),
               hub_.current()->version);
  return std::move(created).value();
}

Result<std::vector<v1::Interface>> ConfigStore::list_interfaces(std::string_view service) {
  if (!service.empty()) {
    if (auto owner = services_.get(service, Secrets::kOmit); !owner) {
      return from_storage(owner.error());
    }
  }
  auto interfaces = interfaces_.list(service);
  if (!interfaces) return from_storage(interfaces.error());
  return std::move(interfaces).value();
}

Result<void> ConfigStore::delete_interface(std::int64_t id) {
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto iface = interfaces_.get(id);
  if (!iface) return from_storage(iface.error());
  auto owner = services_.get(iface.value().service(), Secrets::kOmit);
  if (!owner) return from_storage(owner.error());
  if (auto removed = interfaces_.remove(id); !removed) return from_storage(removed.error());
  if (auto done = commit_change(tx.value(), {owner.value().instance()}); !done) return done;
  spdlog::info("interface {} of service {} deleted (version {})", id, iface.value().service(),
               hub_.current()->version);
  return ok();
}

}  // namespace gw::controlplane

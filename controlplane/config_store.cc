// Admin changes to services, interfaces and certificates, each followed by a snapshot
// publication.
#include "controlplane/config_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "common/logging.h"
#include "controlplane/certificate_pem.h"
#include "controlplane/listen_address.h"
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
  service.clear_handlers();
  service.clear_source_line();
  service.clear_declares_interfaces();
  service.clear_declares_handlers();
  service.clear_created_at_ms();
  service.clear_updated_at_ms();
}

std::string show_name(std::string_view text) { return "\"" + common::log_escape(text, 80) + "\""; }

// Fills the fields derived from cert_pem. A stored chain was checked when it was created, so
// a failure here means the row was changed behind our back: logged, fields left empty.
void add_details(v1::Certificate& certificate) {
  auto details = inspect_certificate_chain(certificate.cert_pem());
  if (details) {
    set_details(details.value(), certificate);
  } else {
    spdlog::error("certificate {} cannot be read: {}", show_name(certificate.name()),
                  details.error().message);
  }
}

// `service "corp" (trusted_cas)` or `interface 3 of service "corp" (sni_certs)`.
std::string describe(const storage::CertificateReference& ref) {
  std::string text = ref.interface_id == 0 ? "service " + show_name(ref.service)
                                           : "interface " + std::to_string(ref.interface_id) +
                                                 " of service " + show_name(ref.service);
  return text + " (" + ref.field + ")";
}

// Rebuilds config.handlers from the handlers inside the instance snapshots.
void index_handlers(Configuration& config) {
  config.handlers.clear();
  for (const auto& [instance, snapshot] : config.instances) {
    for (const v1::Service& s : snapshot->services()) {
      for (const v1::Handler& h : s.handlers()) config.handlers[h.id()] = h;
    }
  }
}

}  // namespace

void ConfigStore::check_secrets_open() {
  const std::string fix =
      ": the key file does not open the secrets stored in this database (it is missing, new "
      "or another database's). Restore the key file that belongs to the database; gctld "
      "does not start without it, since nodes would lose their TLS keys and upstream logins";
  auto certificates = certificates_.list(Secrets::kInclude);
  if (!certificates) {
    throw std::runtime_error("cannot read certificates: " + certificates.error().message);
  }
  for (const v1::Certificate& c : certificates.value()) {
    if (c.has_key() && c.key_pem().empty()) {
      throw std::runtime_error("private key of certificate \"" + common::log_escape(c.name(), 64) +
                               "\"" + fix);
    }
  }
  auto services = services_.list("", Secrets::kInclude);
  if (!services) throw std::runtime_error("cannot read services: " + services.error().message);
  for (const v1::Service& svc : services.value()) {
    if (svc.has_password() && svc.password().empty()) {
      throw std::runtime_error("upstream password of service \"" +
                               common::log_escape(svc.name(), 64) + "\"" + fix);
    }
  }
}

ConfigStore::ConfigStore(storage::Database& db, const storage::SecretBox& secrets, SnapshotHub& hub)
    : db_(db),
      services_(db, secrets),
      interfaces_(db),
      certificates_(db, secrets),
      versions_(db),
      policies_(db),
      handlers_(db),
      users_(db),
      hub_(hub) {
  auto version = versions_.current();
  if (!version) throw std::runtime_error("cannot read config version: " + version.error().message);
  check_secrets_open();
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
  index_handlers(*config);
  auto policies = load_policy_set();
  if (!policies) throw std::runtime_error("cannot read policies: " + policies.error().message);
  config->policies = std::move(policies).value();
  auto users = load_user_directory();
  if (!users) throw std::runtime_error("cannot read users: " + users.error().message);
  config->users = std::move(users).value();
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
  auto handlers = handlers_.list_by_instance(instance);
  if (!handlers) return from_storage(handlers.error());
  for (v1::Handler& handler : handlers.value()) {
    auto it = by_name.find(handler.service());
    if (it != by_name.end()) *it->second->add_handlers() = std::move(handler);
  }
  if (auto attached = attach_certificates(*snapshot); !attached) return attached.as_failure();
  return std::shared_ptr<const v1::ConfigSnapshot>(std::move(snapshot));
}

Result<void> ConfigStore::attach_certificates(v1::ConfigSnapshot& snapshot) {
  // Name -> whether a node needs its private key. Keys go out only for the roles that sign
  // (a server or client certificate); a trust anchor is sent without one even if it has one.
  std::map<std::string, bool, std::less<>> needed;
  auto need = [&needed](const std::string& name, bool with_key) {
    if (name.empty() || name == kSystemTrustStore) return;
    needed[name] = needed[name] || with_key;
  };
  for (const v1::Service& s : snapshot.services()) {
    for (const std::string& ca : s.trusted_cas()) need(ca, false);
    need(s.client_cert(), true);
    for (const v1::Interface& iface : s.interfaces()) {
      need(iface.cert(), true);
      for (const v1::SniCertificate& sni : iface.sni_certs()) need(sni.cert(), true);
      need(iface.client_ca(), false);
    }
  }
  for (const auto& [name, with_key] : needed) {
    auto certificate =
        certificates_.get(name, with_key ? storage::Secrets::kInclude : storage::Secrets::kOmit);
    if (!certificate) {
      if (certificate.error().code != storage::Errc::kNotFound) {
        return from_storage(certificate.error());
      }
      // Only rows written before certificates were checked (schema 001) can dangle.
      spdlog::warn("instance {} names certificate {}, which is not stored", snapshot.instance(),
                   show_name(name));
      continue;
    }
    *snapshot.add_certificates() = std::move(certificate).value();
  }
  return ok();
}

CertificateLookup ConfigStore::certificate_lookup() {
  return [this](std::string_view name) -> Result<std::optional<CertificateFacts>> {
    // With the key: the interface checks try a TLS handshake in memory (tls_usability.h).
    auto certificate = certificates_.get(name, storage::Secrets::kInclude);
    if (!certificate) {
      if (certificate.error().code == storage::Errc::kNotFound) return std::nullopt;
      return from_storage(certificate.error());
    }
    v1::Certificate& c = certificate.value();
    return CertificateFacts{c.has_key(), std::move(*c.mutable_cert_pem()),
                            std::move(*c.mutable_key_pem())};
  };
}

Result<void> ConfigStore::commit_change(storage::Transaction& tx,
                                        std::vector<std::string> instances, Rebuild rebuild) {
  if (batch_) {
    // Inside apply(): fold into its transaction; apply() publishes once at the end.
    if (auto committed = tx.commit(); !committed) return from_storage(committed.error());
    batch_->instances.insert(batch_->instances.end(), instances.begin(), instances.end());
    batch_->rebuild.policies = batch_->rebuild.policies || rebuild.policies;
    batch_->rebuild.users = batch_->rebuild.users || rebuild.users;
    return ok();
  }
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
  index_handlers(*next);
  if (rebuild.policies) {
    auto policies = load_policy_set();
    if (!policies) return policies.as_failure();
    next->policies = std::move(policies).value();
  }
  if (rebuild.users) {
    auto users = load_user_directory();
    if (!users) return users.as_failure();
    next->users = std::move(users).value();
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
  auto handlers = handlers_.list(service_filter);
  if (!handlers) return from_storage(handlers.error());
  for (v1::Handler& handler : handlers.value()) {
    auto it = by_name.find(handler.service());
    if (it != by_name.end()) *it->second->add_handlers() = std::move(handler);
  }
  return ok();
}

namespace {

// The upstream login is a user name and a password together: one without the other was
// stored, and the gateway then passed clients' AUTH through instead of logging in itself
// (probe round 40; a restore from `gctl export`, which omits passwords, did the same).
Result<void> check_upstream_login(const v1::Service& service, bool has_password) {
  if (!service.username().empty() && !has_password) {
    return fail(Code::kInvalidArgument,
                "service " + service.name() + ": an upstream username needs its password "
                "(--password-file, or password_file in a configuration file)");
  }
  if (service.username().empty() && has_password) {
    return fail(Code::kInvalidArgument,
                "service " + service.name() + ": an upstream password needs its username "
                "(--username)");
  }
  return ok();
}

}  // namespace

Result<v1::Service> ConfigStore::create_service(v1::Service request) {
  clear_output_only(request);
  fill_service_defaults(request);
  if (auto valid = validate_service(request); !valid) return valid.as_failure();
  if (auto login = check_upstream_login(request, !request.password().empty()); !login) {
    return login.as_failure();
  }
  if (auto refs = check_service_certificates(request, certificate_lookup()); !refs) {
    return refs.as_failure();
  }

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
  const bool has_password = merged.value().password_changed ? !service.password().empty()
                                                            : current.value().has_password();
  clear_output_only(service);
  fill_service_defaults(service);
  if (auto valid = validate_service(service); !valid) return valid.as_failure();
  if (auto login = check_upstream_login(service, has_password); !login) {
    return login.as_failure();
  }
  if (auto refs = check_service_certificates(service, certificate_lookup()); !refs) {
    return refs.as_failure();
  }

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto updated = services_.update(
      service, merged.value().password_changed ? PasswordChange::kReplace : PasswordChange::kKeep,
      unix_now_ms());
  if (!updated) return from_storage(updated.error());
  if (!batch_) {  // apply() checks once every interface is in place
    if (auto offered = check_tls_offered(service); !offered) return offered.as_failure();
  }
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

void ConfigStore::reserve_endpoint(std::string_view host_port, std::string what) {
  auto parsed = parse_listen(host_port);
  if (!parsed || parsed->port == 0) return;
  std::string host = parsed->host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::vector<std::string> hosts;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    hosts.push_back("");
  } else if (host == "localhost") {
    hosts = {"127.0.0.1", "::1"};
  } else if (auto ip = canonical_ip(host); ip) {
    hosts.push_back(ip.value());
  } else {
    hosts.push_back(host);
  }
  std::lock_guard lock(reserved_mutex_);
  for (std::string& h : hosts) {
    reserved_.push_back({std::move(h), static_cast<std::uint32_t>(parsed->port), what});
  }
}

Result<void> ConfigStore::check_reserved(const v1::Interface& iface) const {
  const std::string& bind = iface.bind_address();  // canonical (validate_interface)
  const bool wildcard = bind == "0.0.0.0" || bind == "::";
  std::lock_guard lock(reserved_mutex_);
  for (const ReservedEndpoint& r : reserved_) {
    if (r.port != iface.port()) continue;
    if (wildcard || r.host.empty() || r.host == bind) {
      return fail(Code::kAlreadyExists,
                  storage::format_endpoint(bind, iface.port()) + " overlaps " + r.what +
                      ": a relay node on this host would take its port");
    }
  }
  return ok();
}

Result<v1::Interface> ConfigStore::create_interface(v1::Interface request) {
  request.clear_id();
  request.clear_source_line();
  fill_interface_defaults(request);
  if (auto valid = validate_interface(request); !valid) return valid.as_failure();
  if (auto free = check_reserved(request); !free) return free.as_failure();
  if (auto refs = check_interface_certificates(request, certificate_lookup()); !refs) {
    return refs.as_failure();
  }

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto owner = services_.get(request.service(), Secrets::kOmit);
  if (!owner) return from_storage(owner.error());
  auto created = interfaces_.create(request, unix_now_ms());
  if (!created) return from_storage(created.error());
  if (!batch_) {  // apply() checks once every interface is in place
    if (auto offered = check_tls_offered(owner.value(), {created.value().id()}); !offered) {
      return offered.as_failure();
    }
  }
  if (auto done = commit_change(tx.value(), {owner.value().instance()}); !done) {
    return done.as_failure();
  }
  spdlog::info("interface {} created: {} {} for service {} (version {})", created.value().id(),
               storage::format_endpoint(created.value().bind_address(), created.value().port()),
               v1::InterfaceType_Name(created.value().type()), created.value().service(),
               hub_.current()->version);
  return std::move(created).value();
}

Result<void> ConfigStore::check_tls_offered(const v1::Service& service,
                                            const std::set<std::int64_t>& adding) {
  if (!service.require_tls()) return ok();
  auto interfaces = interfaces_.list(service.name());
  if (!interfaces) return from_storage(interfaces.error());
  for (const v1::Interface& iface : interfaces.value()) {
    if (iface.type() != v1::INTERFACE_TYPE_TCP) continue;
    return fail(Code::kInvalidArgument,
                "service " + service.name() + " requires TLS (require_tls) but " +
                    (adding.contains(iface.id()) ? std::string("the new interface ")
                     : iface.id() > 0     ? "interface " + std::to_string(iface.id()) + " "
                                          : std::string("interface ")) +
                    "(" +
                    storage::format_endpoint(iface.bind_address(), iface.port()) +
                    ") is tcp, which offers no STARTTLS: its clients could send no mail; use "
                    "type starttls or ssl there, or turn require_tls off");
  }
  return ok();
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

Result<v1::Certificate> ConfigStore::create_certificate(v1::Certificate request) {
  request.clear_source_line();
  if (auto name = validate_certificate_name(request.name()); !name) return name.as_failure();
  auto details = inspect_certificate_chain(request.cert_pem());
  if (!details) return details.as_failure();
  if (!request.key_pem().empty()) {
    auto key = check_private_key(request.cert_pem(), request.key_pem());
    if (!key) return key.as_failure();
    request.set_key_pem(std::move(key).value());
  }

  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  auto created = certificates_.create(request, unix_now_ms());
  if (!created) return from_storage(created.error());
  // Only rows from before certificates were checked can name one that did not exist yet.
  auto refs = certificates_.references(request.name());
  if (!refs) return from_storage(refs.error());
  std::vector<std::string> instances;
  for (const auto& ref : refs.value()) instances.push_back(ref.instance);
  if (auto done = commit_change(tx.value(), std::move(instances)); !done) {
    return done.as_failure();
  }
  v1::Certificate out = std::move(created).value();
  set_details(details.value(), out);
  out.clear_key_pem();
  spdlog::info("certificate {} created: subject {}, {} certificate(s), {} (version {})",
               show_name(out.name()), show_name(out.subject()), details.value().chain_length,
               out.has_key() ? "with key" : "without key", hub_.current()->version);
  return out;
}

Result<v1::Certificate> ConfigStore::get_certificate(std::string_view name) {
  auto certificate = certificates_.get(name, storage::Secrets::kOmit);
  if (!certificate) return from_storage(certificate.error());
  add_details(certificate.value());
  certificate.value().clear_key_pem();
  return std::move(certificate).value();
}

Result<std::vector<v1::Certificate>> ConfigStore::list_certificates() {
  auto certificates = certificates_.list(storage::Secrets::kOmit);
  if (!certificates) return from_storage(certificates.error());
  for (v1::Certificate& certificate : certificates.value()) {
    add_details(certificate);
    certificate.clear_key_pem();
  }
  return std::move(certificates).value();
}

Result<void> ConfigStore::delete_certificate(std::string_view name) {
  if (name.empty()) return fail(Code::kInvalidArgument, "certificate name is required");
  auto tx = storage::Transaction::begin(db_);
  if (!tx) return from_storage(tx.error());
  if (auto found = certificates_.get(name, storage::Secrets::kOmit); !found) {
    return from_storage(found.error());
  }
  auto refs = certificates_.references(name);
  if (!refs) return from_storage(refs.error());
  if (!refs.value().empty()) {
    constexpr std::size_t kShown = 5;
    std::string users;
    for (std::size_t i = 0; i < refs.value().size() && i < kShown; ++i) {
      users += (i == 0 ? "" : ", ") + describe(refs.value()[i]);
    }
    if (refs.value().size() > kShown) {
      users += " and " + std::to_string(refs.value().size() - kShown) + " more";
    }
    return fail(Code::kFailedPrecondition, "certificate " + show_name(name) + " is still used by " +
                                               users + ": change or delete those first");
  }
  if (auto removed = certificates_.remove(name); !removed) return from_storage(removed.error());
  if (auto done = commit_change(tx.value(), {}); !done) return done;
  spdlog::info("certificate {} deleted (version {})", show_name(name), hub_.current()->version);
  return ok();
}

}  // namespace gw::controlplane

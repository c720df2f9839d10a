// The configuration's system of record: validated admin changes to services, interfaces and
// certificates, written to SQLite, followed by a new snapshot for each affected instance.
#pragma once

#include <google/protobuf/field_mask.pb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/configuration.h"
#include "controlplane/error.h"
#include "controlplane/snapshot_hub.h"
#include "controlplane/validation.h"
#include "gateway/v1/config.pb.h"
#include "storage/certificate_repository.h"
#include "storage/config_version_repository.h"
#include "storage/database.h"
#include "storage/interface_repository.h"
#include "storage/secret_box.h"
#include "storage/service_repository.h"

namespace gw::controlplane {

/// Admin operations on services, interfaces and certificates. Each change runs in one SQLite
/// transaction that also bumps the persisted configuration version and rebuilds the
/// snapshots of the instances it concerns; after the commit the new Configuration is
/// published to `hub`, so watchers see the change at once (DESIGN.md §1, issue 2: "a change
/// made with gctl reaches running nodes within one second").
///
/// Snapshots carry, besides the services with their interfaces and passwords, every
/// certificate those name (issue 3): name, cert_pem, has_key, and the private key only of
/// certificates used with their key (client_cert, interface cert, SNI certificates); trust
/// anchors (trusted_cas, client_ca) go without it, "system" is never listed. The fields
/// derived from the PEM (subject, validity, ...) are left out: nodes parse the PEM anyway,
/// and inspecting every certificate on every rebuild would cost more than the rest of it.
///
/// Threading: not thread-safe. Construct it anywhere, then call it from one thread only
/// (the DB worker); `hub` is thread-safe and may be read anywhere. Returned services never
/// carry the password (has_password instead) and always carry their interfaces; returned
/// certificates never carry the private key (has_key instead).
class ConfigStore {
 public:
  /// Loads every service and builds the initial Configuration into `hub` at the stored
  /// version. Throws std::runtime_error when the database cannot be read (start-up only).
  ConfigStore(storage::Database& db, const storage::SecretBox& secrets, SnapshotHub& hub);

  /// Creates a service: fills defaults, validates (the certificates it names must exist),
  /// stores (password sealed).
  /// Errors: kInvalidArgument, kAlreadyExists (name taken), kUnavailable, kInternal.
  Result<gateway::v1::Service> create_service(gateway::v1::Service request);

  /// Errors: kNotFound, kUnavailable, kInternal.
  Result<gateway::v1::Service> get_service(std::string_view name);

  /// Services of `instance` (all when empty), by name.
  Result<std::vector<gateway::v1::Service>> list_services(std::string_view instance);

  /// Applies `mask` from `patch` to the service named `patch.name` (merge_service_update),
  /// fills defaults, validates. Moving a service to another instance republishes both.
  /// Errors: kInvalidArgument, kNotFound, kUnavailable, kInternal.
  Result<gateway::v1::Service> update_service(const gateway::v1::Service& patch,
                                              const google::protobuf::FieldMask& mask);

  /// Deletes a service with its interfaces. Errors: kInvalidArgument (empty name),
  /// kNotFound, kUnavailable, kInternal.
  Result<void> delete_service(std::string_view name);

  /// Creates an interface: fills defaults, validates (the certificates it names must exist),
  /// normalises the bind address and SNI names.
  /// Errors: kInvalidArgument, kNotFound (service), kAlreadyExists (address:port, also a
  /// wildcard address against any address on the same port), kUnavailable, kInternal.
  Result<gateway::v1::Interface> create_interface(gateway::v1::Interface request);

  /// Interfaces of `service` (all when empty), by id. Errors: kNotFound (unknown service).
  Result<std::vector<gateway::v1::Interface>> list_interfaces(std::string_view service);

  /// Errors: kNotFound, kUnavailable, kInternal.
  Result<void> delete_interface(std::int64_t id);

  /// Stores a certificate chain and optional private key (certificate_pem.h checks: every
  /// PEM block a certificate, the key unencrypted and matching the first certificate; the
  /// key is stored as PKCS#8, sealed). Instances whose configuration already names it get a
  /// new snapshot. Returns it with subject, SANs, validity, fingerprint, has_key, no key.
  /// Errors: kInvalidArgument (name invalid or "system", PEM or key refused),
  /// kAlreadyExists, kUnavailable, kInternal.
  Result<gateway::v1::Certificate> create_certificate(gateway::v1::Certificate request);

  /// One certificate without its key. Errors: kNotFound, kUnavailable, kInternal.
  Result<gateway::v1::Certificate> get_certificate(std::string_view name);

  /// Every certificate by name, without keys.
  Result<std::vector<gateway::v1::Certificate>> list_certificates();

  /// Deletes a certificate no service or interface names.
  /// Errors: kInvalidArgument (empty name), kNotFound, kFailedPrecondition (still named;
  /// the message lists the referrers), kUnavailable, kInternal.
  Result<void> delete_certificate(std::string_view name);

 private:
  /// Inside the open transaction `tx`: bumps the version, rebuilds the snapshots of
  /// `instances`, commits, then publishes. Nothing is published when any step fails.
  Result<void> commit_change(storage::Transaction& tx, std::vector<std::string> instances);
  /// The instance's snapshot at `version`, read through the open transaction.
  Result<std::shared_ptr<const gateway::v1::ConfigSnapshot>> build_snapshot(
      std::uint64_t version, const std::string& instance);
  /// Adds interfaces to admin-facing services.
  Result<void> attach_interfaces(std::vector<gateway::v1::Service>& services,
                                 std::string_view service_filter);
  /// Adds to `snapshot` every certificate its services and interfaces name.
  Result<void> attach_certificates(gateway::v1::ConfigSnapshot& snapshot);
  /// The validation view of the certificates table.
  CertificateLookup certificate_lookup();

  storage::Database& db_;
  storage::ServiceRepository services_;
  storage::InterfaceRepository interfaces_;
  storage::CertificateRepository certificates_;
  storage::ConfigVersionRepository versions_;
  SnapshotHub& hub_;
};

}  // namespace gw::controlplane

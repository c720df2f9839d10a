// The configuration's system of record: validated admin changes to services, interfaces and
// certificates, written to SQLite, followed by a new snapshot for each affected instance.
#pragma once

#include <google/protobuf/field_mask.pb.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/message_limits.h"
#include "controlplane/configuration.h"
#include "controlplane/error.h"
#include "controlplane/policy/password_hash.h"
#include "controlplane/snapshot_hub.h"
#include "controlplane/validation.h"
#include "gateway/v1/config.pb.h"
#include "gateway/v1/policy.pb.h"
#include "storage/certificate_repository.h"
#include "storage/config_version_repository.h"
#include "storage/database.h"
#include "storage/interface_repository.h"
#include "storage/secret_box.h"
#include "storage/handler_repository.h"
#include "storage/policy_repository.h"
#include "storage/service_repository.h"
#include "storage/upsert_outcome.h"
#include "storage/user_repository.h"

namespace gw::controlplane {

/// The most octets of text (reply and filters) all policies together may hold: half of what
/// gctl sends in one apply (common::kMaxConfigurationBytes), so that the whole configuration
/// stays exportable and applicable again. Over it upsert_policy() and apply() refuse
/// (INVALID_ARGUMENT).
inline constexpr std::uint64_t kMaxPolicyTextOctets = common::kMaxConfigurationBytes / 2;

/// Admin operations on services, interfaces, certificates, policies, handlers and users. Each change runs in one SQLite
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
  /// Lowers the kMaxPolicyTextOctets bound (tests: the real one takes seconds of YAML).
  void limit_policy_text(std::uint64_t octets) { max_policy_text_ = octets; }
  /// Marks "HOST:PORT" (gctld's --listen or --metrics-listen, as parsed by parse_listen;
  /// `what` names it) as taken: an interface whose endpoint overlaps it is refused, since a
  /// node on this host would take gctld's port when gctld restarts (probe round 45). A
  /// wildcard (0.0.0.0, ::, empty) overlaps every address on its port; "localhost" is
  /// 127.0.0.1 and ::1; another host name only a wildcard interface. Thread-safe.
  void reserve_endpoint(std::string_view host_port, std::string what);

  /// Lowers the least cost a given password_hash must have (tests: policy::kTestArgon2Cost).
  void accept_hash_cost_from(const policy::Argon2Cost& minimum) { min_hash_cost_ = minimum; }

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

  // --- Policies, handlers and the authentication repository (config_store_policy.cc;
  // issue 4, DESIGN.md §5, §6). Policies and users are global; a handler belongs to a
  // service and reaches the nodes of its instance in their snapshot.

  /// Creates or replaces the policy named `policy.name` after compiling it
  /// (policy::compile_policy: name, reply, filters). Errors: kInvalidArgument (the compile
  /// error, e.g. `policy "x": filter 2 (line 5): unknown filter type "foo"`),
  /// kUnavailable, kInternal.
  Result<storage::UpsertOutcome> upsert_policy(const gateway::v1::Policy& policy);

  /// Errors: kNotFound, kUnavailable, kInternal.
  Result<gateway::v1::Policy> get_policy(std::string_view name);

  /// Every policy by name.
  Result<std::vector<gateway::v1::Policy>> list_policies();

  /// Deletes a policy no handler binds. Errors: kNotFound, kFailedPrecondition (bound; the
  /// message names the handlers), kUnavailable, kInternal.
  Result<void> delete_policy(std::string_view name);

  /// Creates a handler: command helo|auth|mail|rcpt|data; the greeting (helo only, default
  /// "Hello ${smtp.helo.domain}") and address (mail/rcpt only, default "*") are filled in;
  /// a greeting or address on another command is refused. A service has at most one
  /// handler per command for helo/auth/data and per address pattern (case-insensitive) for
  /// mail/rcpt. Errors: kInvalidArgument, kNotFound (service or policy), kAlreadyExists,
  /// kUnavailable, kInternal.
  Result<gateway::v1::Handler> create_handler(gateway::v1::Handler request);

  /// Handlers of `service` (all when empty), by id. Errors: kNotFound (unknown service).
  Result<std::vector<gateway::v1::Handler>> list_handlers(std::string_view service);

  /// Errors: kNotFound, kUnavailable, kInternal.
  Result<void> delete_handler(std::int64_t id);

  /// Adds a user with a fresh Argon2id hash of `password` (1..1024 octets, no NUL/CR/LF),
  /// or with `password_hash` when that is given instead (must be is_password_hash()).
  /// Costs one Argon2id hash (about 0.15 s) on the calling thread. Returns it without hash.
  /// Errors: kInvalidArgument, kAlreadyExists, kUnavailable, kInternal.
  Result<gateway::v1::User> create_user(const gateway::v1::User& request);

  /// Replaces a user's hash with a fresh hash of `password`. Errors: kInvalidArgument,
  /// kNotFound, kUnavailable, kInternal.
  Result<gateway::v1::User> set_user_password(std::string_view name, std::string_view password);

  /// Every user by name, without hashes.
  Result<std::vector<gateway::v1::User>> list_users();

  /// Errors: kNotFound, kUnavailable, kInternal.
  Result<void> delete_user(std::string_view name);

  // --- Declarative configuration (config_apply.cc; `gctl apply -f`, `gctl export`).

  /// Applies `document` in one transaction: certificates, users, policies, then services
  /// with their interfaces and handlers, each created or updated by name (see
  /// config_apply.cc for the rules). All or nothing: on the first error nothing is changed
  /// and the error's message is "FILE:LINE: reason" (the object's source_line). With
  /// `dry_run` the changes are computed and rolled back. Errors: the object's error code
  /// (kInvalidArgument, kNotFound, kAlreadyExists, kFailedPrecondition), kUnavailable,
  /// kInternal.
  Result<gateway::v1::ApplyResponse> apply(const gateway::v1::ConfigurationDocument& document,
                                           bool dry_run);

  /// The whole configuration as a document `apply` accepts: certificates without keys,
  /// users with hashes, policies, services with interfaces and handlers, no passwords.
  Result<gateway::v1::ConfigurationDocument> export_document();

 private:
  /// Throws std::runtime_error (gctld then does not start) when a sealed certificate key or
  /// upstream password cannot be opened with the key file: the key file is missing (a new
  /// one was just made), or belongs to another database (probe round 10: gctld started and
  /// published certificates without keys, and every node dropped its TLS).
  void check_secrets_open();
  /// What a change needs rebuilt besides the snapshots of its instances.
  /// (No default member initializers: `= {}` as a default argument needs an aggregate
  /// that is complete here; value-initialisation makes both false.)
  struct Rebuild {
    bool policies;
    bool users;
  };
  /// Changes collected while apply() runs: published once, at its end.
  struct Batch {
    std::vector<std::string> instances;
    Rebuild rebuild;
    // Octets of every stored policy's text, kept up to date by upsert_policy() once read:
    // one SUM per apply instead of one per policy (probe round 45: 10,000 policies took
    // 5 s, 20,000 took 20 s).
    std::optional<std::uint64_t> policy_text;
  };

  /// Inside the open transaction `tx`: bumps the version, rebuilds the snapshots of
  /// `instances` (and the policy set / user directory per `rebuild`), commits, then
  /// publishes. Nothing is published when any step fails. Inside apply() the change is
  /// only folded into apply's transaction and remembered for its single publication.
  Result<void> commit_change(storage::Transaction& tx, std::vector<std::string> instances,
                             Rebuild rebuild = {});
  /// Every stored policy compiled; a stored policy that no longer compiles (a newer
  /// build's filter type, say) is logged and left out, so its handlers tempfail.
  Result<std::shared_ptr<const policy::PolicySet>> load_policy_set();
  /// Every stored user's hash.
  Result<std::shared_ptr<const policy::UserDirectory>> load_user_directory();
  /// The instance of the service named `name`. Errors: kNotFound.
  Result<std::string> instance_of(std::string_view service);
  /// The instance's snapshot at `version`, read through the open transaction.
  Result<std::shared_ptr<const gateway::v1::ConfigSnapshot>> build_snapshot(
      std::uint64_t version, const std::string& instance);
  /// Adds interfaces and handlers to admin-facing services.
  Result<void> attach_interfaces(std::vector<gateway::v1::Service>& services,
                                 std::string_view service_filter);
  /// Adds to `snapshot` every certificate its services and interfaces name.
  Result<void> attach_certificates(gateway::v1::ConfigSnapshot& snapshot);
  /// The validation view of the certificates table.
  CertificateLookup certificate_lookup();
  /// Inside the open transaction: kInvalidArgument when `service` has require_tls and an
  /// interface of type tcp, which cannot offer STARTTLS, so its clients would get 530 for
  /// every MAIL and could send nothing (RFC 3207 §4; probe round 34).
  /// `adding`: the ids of interfaces this transaction creates, each named "the new
  /// interface" (their ids go back with a refusal, and later interfaces get them; probe
  /// rounds 40 and 41).
  Result<void> check_tls_offered(const gateway::v1::Service& service,
                                 const std::set<std::int64_t>& adding = {});

  storage::Database& db_;
  storage::ServiceRepository services_;
  storage::InterfaceRepository interfaces_;
  storage::CertificateRepository certificates_;
  storage::ConfigVersionRepository versions_;
  storage::PolicyRepository policies_;
  storage::HandlerRepository handlers_;
  storage::UserRepository users_;
  SnapshotHub& hub_;
  std::optional<Batch> batch_;  // set while apply() runs
  std::uint64_t max_policy_text_ = kMaxPolicyTextOctets;
  policy::Argon2Cost min_hash_cost_ = policy::kDefaultArgon2Cost;
  struct ReservedEndpoint {
    std::string host;  // canonical IP, "" for a wildcard, or a host name
    std::uint32_t port = 0;
    std::string what;
  };
  mutable std::mutex reserved_mutex_;
  std::vector<ReservedEndpoint> reserved_;  // guarded by reserved_mutex_
  Result<void> check_reserved(const gateway::v1::Interface& iface) const;
  /// Every stored handler's policy reply fits the handler's command (policy::
  /// reply_code_misfit): apply's final check. `failing_policy` gets the policy refused.
  Result<void> check_handler_replies(std::string* failing_policy);
};

}  // namespace gw::controlplane

// Services table family (services + service_trusted_cas) <-> gateway.v1.Service.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "gateway/v1/config.pb.h"
#include "storage/database.h"
#include "storage/result.h"
#include "storage/secret_box.h"

namespace gw::storage {

/// Whether reads decrypt the upstream password into Service.password. Only the node watch
/// stream asks for kInclude; everything else sees has_password alone.
enum class Secrets { kOmit, kInclude };

/// Whether update() touches the stored password.
enum class PasswordChange {
  kKeep,     // leave the stored password as it is (service.password is ignored)
  kReplace,  // store service.password; an empty one removes the stored password
};

/// Maps services rows to gateway.v1.Service. The caller validates and fills defaults first
/// (controlplane/service_defaults.h); the table's CHECK constraints are a last line only.
/// Output-only fields (has_password, created_at_ms, updated_at_ms) are set on reads;
/// `interfaces` is never filled here (see InterfaceRepository). Runs on the thread that owns
/// the Database; each write is atomic (its own nested Transaction).
class ServiceRepository {
 public:
  ServiceRepository(Database& db, const SecretBox& secrets) : db_(db), secrets_(secrets) {}

  /// Inserts `service`, sealing a non-empty `service.password`; created_at_ms and
  /// updated_at_ms become `now_ms` (milliseconds since the Unix epoch). Returns the stored
  /// service as get(kOmit) would. Errors: kAlreadyExists (same name), kConstraint (a value
  /// outside the table's checks), kBusy, kInternal.
  Result<gateway::v1::Service> create(const gateway::v1::Service& service, std::int64_t now_ms);

  /// Replaces every stored field of the service named `service.name` except created_at_ms;
  /// the password per `password`. Errors: kNotFound, kConstraint, kBusy, kInternal.
  Result<gateway::v1::Service> update(const gateway::v1::Service& service, PasswordChange password,
                                      std::int64_t now_ms);

  /// One service by name. With Secrets::kInclude a password that cannot be decrypted (key
  /// file lost or replaced) is logged and left empty, has_password still true.
  /// Errors: kNotFound, kBusy, kInternal.
  Result<gateway::v1::Service> get(std::string_view name, Secrets secrets);

  /// Services of `instance` (all services when empty), ordered by name.
  Result<std::vector<gateway::v1::Service>> list(std::string_view instance, Secrets secrets);

  /// Deletes the service; its interfaces and trusted-CA rows go with it (ON DELETE
  /// CASCADE). Errors: kNotFound, kBusy, kInternal.
  Result<void> remove(std::string_view name);

 private:
  Result<gateway::v1::Service> read_row(Statement& row, Secrets secrets);
  Result<void> write_trusted_cas(std::int64_t service_id,
                                 const google::protobuf::RepeatedPtrField<std::string>& cas);
  Result<void> store_password(std::string_view name, std::string_view password);

  Database& db_;
  const SecretBox& secrets_;
};

}  // namespace gw::storage

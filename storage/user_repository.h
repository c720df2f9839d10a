// Users table (the authentication repository) <-> gateway.v1.User: names and salted slow
// password hashes, never a plaintext (issue 4, DESIGN.md §7 "Secrets").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/v1/policy.pb.h"
#include "storage/database.h"
#include "storage/result.h"
#include "storage/service_repository.h"
#include "storage/upsert_outcome.h"

namespace gw::storage {

/// Stores a hash the caller computed (Argon2id or the like; the control plane hashes and
/// verifies, storage never sees a password). Nothing here logs a hash, and error messages
/// name the user only. Reads fill name, created_at_ms, updated_at_ms, and password_hash
/// only with Secrets::kInclude (`gctl export`). Runs on the thread that owns the Database.
class UserRepository {
 public:
  explicit UserRepository(Database& db) : db_(db) {}

  /// Inserts the user; created_at_ms and updated_at_ms become `now_ms`. Returns the stored
  /// user without its hash. Errors: kAlreadyExists (name taken), kConstraint (empty name or
  /// hash), kBusy, kInternal.
  Result<gateway::v1::User> create(std::string_view name, std::string_view password_hash,
                                   std::int64_t now_ms);

  /// Replaces the user's hash; updated_at_ms becomes `now_ms`. Returns the stored user
  /// without its hash. Errors: kNotFound, kConstraint (empty hash), kBusy, kInternal.
  Result<gateway::v1::User> set_hash(std::string_view name, std::string_view password_hash,
                                     std::int64_t now_ms);

  /// Creates the user or replaces its hash (`gctl apply`); an equal hash writes nothing.
  /// Errors: kConstraint (empty name or hash), kBusy, kInternal.
  Result<UpsertOutcome> upsert(std::string_view name, std::string_view password_hash,
                               std::int64_t now_ms);

  /// The stored hash of `name`, for verification. Errors: kNotFound, kBusy, kInternal.
  Result<std::string> get_hash(std::string_view name);

  /// One user (hash per `secrets`). Errors: kNotFound, kBusy, kInternal.
  Result<gateway::v1::User> get(std::string_view name, Secrets secrets);

  /// Every user, ordered by name (hashes per `secrets`).
  Result<std::vector<gateway::v1::User>> list(Secrets secrets);

  /// Deletes the user. Errors: kNotFound, kBusy, kInternal.
  Result<void> remove(std::string_view name);

 private:
  Database& db_;
};

}  // namespace gw::storage

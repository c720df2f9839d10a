// Policies table <-> gateway.v1.Policy, and the "policy in use" rule: a policy that a
// handler binds cannot be deleted (issue 4, DESIGN.md §6).
#pragma once

#include <boost/outcome/result.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include "gateway/v1/policy.pb.h"
#include "storage/database.h"
#include "storage/result.h"
#include "storage/upsert_outcome.h"

namespace gw::storage {

/// Why PolicyRepository::remove() refused. When handlers still bind the policy (the typed
/// "in use" case, a caller maps it to FAILED_PRECONDITION) `handler_ids` lists them in id
/// order and `error` is kConstraint with a message naming them; otherwise `handler_ids` is
/// empty and `error` is the storage failure (kNotFound, kBusy, kInternal).
struct PolicyRemoveError {
  Error error;
  std::vector<std::int64_t> handler_ids;

  bool in_use() const { return !handler_ids.empty(); }
};

/// Result of PolicyRepository::remove(); reading the wrong side aborts, like Result<T>.
using PolicyRemoveResult =
    boost::outcome_v2::result<void, PolicyRemoveError, boost::outcome_v2::policy::terminate>;

/// Maps policies rows to gateway.v1.Policy (name, reply, filters_yaml, created_at_ms,
/// updated_at_ms; source_line is input only and never stored). The caller validates the
/// name, the reply template and the filter YAML first: storage keeps them as given. Runs on
/// the thread that owns the Database; each write is atomic (its own nested Transaction).
class PolicyRepository {
 public:
  explicit PolicyRepository(Database& db) : db_(db) {}

  /// Creates the policy named `policy.name`, or replaces its reply and filters_yaml.
  /// created_at_ms is `now_ms` on creation and kept afterwards; updated_at_ms becomes
  /// `now_ms` unless the stored values were already equal (kUnchanged: nothing written).
  /// Errors: kConstraint (empty name), kBusy, kInternal.
  Result<UpsertOutcome> upsert(const gateway::v1::Policy& policy, std::int64_t now_ms);

  /// One policy by name (case-sensitive). Errors: kNotFound, kBusy, kInternal.
  Result<gateway::v1::Policy> get(std::string_view name);

  /// Every policy, ordered by name.
  Result<std::vector<gateway::v1::Policy>> list();

  /// Octets of reply and filters_yaml over every policy but `except` (the one about to be
  /// replaced). Errors: kBusy, kInternal.
  Result<std::uint64_t> text_octets_except(std::string_view except);

  /// Ids of the handlers that bind the policy named `name`, ascending; empty when none
  /// (or no such policy).
  Result<std::vector<std::int64_t>> handlers_using(std::string_view name);

  /// The SMTP commands of the handlers that bind the policy named `name`, each once, in no
  /// particular order; empty when none.
  Result<std::vector<gateway::v1::SmtpCommand>> commands_using(std::string_view name);

  /// Deletes the policy unless a handler binds it (see PolicyRemoveError: "in use", naming
  /// the handler ids). Errors: in use, kNotFound, kBusy, kInternal.
  PolicyRemoveResult remove(std::string_view name);

 private:
  Database& db_;
};

}  // namespace gw::storage

// Handlers table <-> gateway.v1.Handler: which policy runs on which SMTP command of which
// service (DESIGN.md §2 "handler", §5).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "gateway/v1/config.pb.h"
#include "storage/database.h"
#include "storage/result.h"

namespace gw::storage {

/// Maps handlers rows to gateway.v1.Handler (the `service` field carries the owning
/// service's name; rows refer to it by id). The caller validates first and fills the
/// defaults (greeting "Hello ${smtp.helo.domain}" for helo, address "*" for mail/rcpt):
/// storage keeps greeting and address as given. Handlers go with their service (ON DELETE
/// CASCADE); a policy a handler binds cannot be deleted (PolicyRepository::remove). Ids are
/// never reused and grow with creation order, the last tie-break of DESIGN.md §5. Runs on
/// the thread that owns the Database.
class HandlerRepository {
 public:
  explicit HandlerRepository(Database& db) : db_(db) {}

  /// Inserts `handler` (its id is ignored and assigned) for the service named
  /// `handler.service`, bound to the policy named `handler.policy`; created_at_ms becomes
  /// `now_ms`. Returns the stored handler, id included.
  /// Errors: kNotFound (no such service, or no such policy; the message says which),
  /// kConstraint (command unspecified or unknown), kBusy, kInternal.
  Result<gateway::v1::Handler> create(const gateway::v1::Handler& handler, std::int64_t now_ms);

  /// One handler. Errors: kNotFound, kBusy, kInternal.
  Result<gateway::v1::Handler> get(std::int64_t id);

  /// Handlers of the service named `service` (every handler when empty), ordered by id. An
  /// unknown service simply has none.
  Result<std::vector<gateway::v1::Handler>> list(std::string_view service);

  /// Handlers of every service of `instance`, ordered by id (a node's snapshot).
  Result<std::vector<gateway::v1::Handler>> list_by_instance(std::string_view instance);

  /// Deletes one handler. Errors: kNotFound, kBusy, kInternal.
  Result<void> remove(std::int64_t id);

 private:
  Result<std::vector<gateway::v1::Handler>> query(std::string_view where,
                                                  std::string_view argument);
  Database& db_;
};

}  // namespace gw::storage

// Interfaces table <-> gateway.v1.Interface, including the one-listener-per-address rule.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "gateway/v1/config.pb.h"
#include "storage/database.h"
#include "storage/result.h"

namespace gw::storage {

/// Maps interfaces rows (and their interface_sni_certs rows) to gateway.v1.Interface (the
/// `service` field carries the owning service's name; rows refer to it by id). The caller
/// validates and fills defaults first (ciphers, tls_min_version), passes `bind_address` in
/// canonical inet_ntop form and SNI server names in lower case. Runs on the thread that owns
/// the Database.
class InterfaceRepository {
 public:
  explicit InterfaceRepository(Database& db) : db_(db) {}

  /// Inserts `iface` (its id is ignored and assigned, never reused) for the service named
  /// `iface.service`. Two interfaces may not listen on overlapping addresses: the same
  /// (bind_address, port), or a wildcard address (0.0.0.0 or ::) and any other address
  /// on the same port. Returns the stored interface.
  /// Errors: kNotFound (no such service), kAlreadyExists (address:port taken; the message
  /// names the interface holding it; or a server name twice in sni_certs), kConstraint,
  /// kBusy, kInternal.
  Result<gateway::v1::Interface> create(const gateway::v1::Interface& iface, std::int64_t now_ms);

  /// One interface. Errors: kNotFound, kBusy, kInternal.
  Result<gateway::v1::Interface> get(std::int64_t id);

  /// Interfaces of the service named `service` (all when empty), ordered by id. An unknown
  /// service simply has none.
  Result<std::vector<gateway::v1::Interface>> list(std::string_view service);

  /// Interfaces of every service of `instance`, ordered by id.
  Result<std::vector<gateway::v1::Interface>> list_by_instance(std::string_view instance);

  /// Deletes one interface. Errors: kNotFound, kBusy, kInternal.
  Result<void> remove(std::int64_t id);

 private:
  Result<std::vector<gateway::v1::Interface>> query(std::string_view where,
                                                    std::string_view argument);
  Database& db_;
};

/// "127.0.0.1:25" or "[::1]:25": an address and port as an operator writes them.
std::string format_endpoint(std::string_view address, std::uint32_t port);

}  // namespace gw::storage

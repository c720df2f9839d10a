// The configuration version counter: one row, bumped with every configuration change.
#pragma once

#include <cstdint>

#include "storage/database.h"
#include "storage/result.h"

namespace gw::storage {

/// The persisted configuration version. Call bump() inside the transaction that makes the
/// change, so the new version is durable exactly when the change is; a restart therefore
/// never hands out a version lower than one already sent. Runs on the Database's thread.
class ConfigVersionRepository {
 public:
  explicit ConfigVersionRepository(Database& db) : db_(db) {}

  /// The current version (0 on a new database). Errors: kBusy, kInternal.
  Result<std::uint64_t> current();

  /// Adds one and returns the new version. Errors: kBusy, kInternal.
  Result<std::uint64_t> bump();

 private:
  Database& db_;
};

}  // namespace gw::storage

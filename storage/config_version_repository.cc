// The config_version row.
#include "storage/config_version_repository.h"

namespace gw::storage {
namespace {

Result<std::uint64_t> single_value(Statement& stmt) {
  auto row = stmt.step();
  if (!row) return row.as_failure();
  if (!row.value()) return fail(Errc::kInternal, "config_version row is missing");
  auto value = static_cast<std::uint64_t>(stmt.column_int64(0));
  if (auto rest = stmt.run(); !rest) return rest.as_failure();
  return value;
}

}  // namespace

Result<std::uint64_t> ConfigVersionRepository::current() {
  auto stmt = db_.prepare("SELECT version FROM config_version WHERE id = 1");
  if (!stmt) return stmt.as_failure();
  return single_value(stmt.value());
}

Result<std::uint64_t> ConfigVersionRepository::bump() {
  auto stmt =
      db_.prepare("UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version");
  if (!stmt) return stmt.as_failure();
  return single_value(stmt.value());
}

}  // namespace gw::storage

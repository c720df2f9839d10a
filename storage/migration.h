// Schema migrations embedded in the library at build time from storage/migrations/NNN_*.sql.
#pragma once

#include <span>
#include <string_view>

namespace gw::storage {

/// One numbered schema step. `version` is the NNN prefix of the file name (1, 2, ...),
/// `sql` the file's text: one or more statements, constant, never built from input.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

/// The migrations of storage/migrations/, ordered by version, numbered 1..N without gaps
/// (the build fails otherwise). Static storage: the views stay valid for the process.
std::span<const Migration> embedded_migrations();

}  // namespace gw::storage

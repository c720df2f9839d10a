# Build-time script: embeds storage/migrations/NNN_name.sql into a C++ source file.
# Usage: cmake -DOUTPUT=file.cc -DMIGRATIONS="a.sql;b.sql" -P embed_migrations.cmake
# Versions must run 1..N without gaps or duplicates; a file may not contain the raw-string
# delimiter. Either mistake fails the build rather than producing a surprising schema.
list(SORT MIGRATIONS)
set(entries "")
set(expected 1)
foreach(path IN LISTS MIGRATIONS)
  get_filename_component(name "${path}" NAME)
  if(NOT name MATCHES "^([0-9][0-9][0-9])_[a-z0-9_]+\\.sql$")
    message(FATAL_ERROR "migration file name must look like 001_name.sql: ${name}")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "migration ${name}: expected version ${expected} (no gaps, no duplicates)")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ "${path}" sql)
  string(FIND "${sql}" ")gwsql\"" delimiter_at)
  if(NOT delimiter_at EQUAL -1)
    message(FATAL_ERROR "migration ${name} contains the embedding delimiter )gwsql\"")
  endif()
  string(APPEND entries "    {${version}, \"${name}\", R\"gwsql(${sql})gwsql\"},\n")
endforeach()
if(expected EQUAL 1)
  message(FATAL_ERROR "no migrations found")
endif()
set(content "// Generated from storage/migrations/*.sql by storage/embed_migrations.cmake. Do not edit.
#include \"storage/migration.h\"

namespace gw::storage {
namespace {
constexpr Migration kMigrations[] = {
${entries}};
}  // namespace

std::span<const Migration> embedded_migrations() { return kMigrations; }

}  // namespace gw::storage
")
# Write only when changed so an unrelated rebuild does not recompile the library.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${content}")

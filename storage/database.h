// RAII SQLite connection, prepared statements with bound parameters, savepoint transactions
// and schema migrations (STYLE.md "storage/").
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "storage/migration.h"
#include "storage/result.h"

namespace gw::storage {

class Database;

/// A prepared statement. Parameters are bound by 1-based index and never spliced into the
/// SQL text. A bind failure (index out of range, value too big) is remembered and returned
/// by the next step()/run(). Not thread-safe; used on the thread that owns the Database.
class Statement {
 public:
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;
  ~Statement() = default;

  Statement& bind_int64(int index, std::int64_t value);
  Statement& bind_bool(int index, bool value);
  /// Binds UTF-8 text; SQLite copies it, so `value` need not outlive the call.
  Statement& bind_text(int index, std::string_view value);
  /// Binds UTF-8 text without copying it: `value` must stay unchanged until the statement
  /// is reset() or destroyed. For hot paths that bind many columns per row (audit inserts).
  Statement& bind_text_static(int index, std::string_view value);
  /// Binds raw octets as a BLOB (copied).
  Statement& bind_blob(int index, std::string_view octets);
  Statement& bind_null(int index);

  /// Advances: true when a row is available, false when the statement is done.
  /// Errors: kAlreadyExists (UNIQUE / PRIMARY KEY), kConstraint (CHECK, NOT NULL, FOREIGN
  /// KEY), kBusy, kInternal; the message names the SQLite error.
  Result<bool> step();
  /// Steps until done, ignoring rows. Same errors as step().
  Result<void> run();
  /// Makes the statement ready to run again: rewinds it (sqlite3_reset), unbinds every
  /// parameter (sqlite3_clear_bindings) and forgets a remembered bind failure. For
  /// statements kept across calls (Database::prepare_persistent()).
  void reset();

  /// Column accessors for the current row; `index` is 0-based.
  std::int64_t column_int64(int index) const;
  bool column_bool(int index) const;
  std::string column_text(int index) const;
  std::string column_blob(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class Database;
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
  };
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void note_bind(int rc, int index);

  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  int bind_rc_ = SQLITE_OK;
  int bind_index_ = 0;
};

/// One SQLite connection. Opening configures it (WAL journal, foreign_keys=ON,
/// busy_timeout) and applies pending migrations; afterwards all access goes through
/// prepared statements. Not thread-safe: one thread at a time (the control plane's DB
/// thread). Movable, not copyable; closes the connection on destruction.
class Database {
 public:
  /// How long a statement waits for a lock held by another connection before kBusy.
  static constexpr int kBusyTimeoutMs = 5000;

  /// Opens (creating if missing) the database file at `path` and applies every migration
  /// newer than the stored schema version, in order, in one transaction.
  /// Throws std::runtime_error when the file cannot be opened, WAL or foreign keys cannot be
  /// switched on, a migration fails (nothing of it is kept), or the file's schema is newer
  /// than `migrations` (written by a newer gctld).
  static Database open(const std::filesystem::path& path,
                       std::span<const Migration> migrations = embedded_migrations());

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  ~Database() = default;

  /// Prepares one statement of constant SQL text. Errors: kInternal (syntax, unknown
  /// table: a programming error), kBusy.
  Result<Statement> prepare(std::string_view sql);
  /// Like prepare(), for a statement kept and reset() for many runs
  /// (SQLITE_PREPARE_PERSISTENT: SQLite allocates it outside its lookaside memory).
  /// The Statement must not outlive this Database. Same errors as prepare().
  Result<Statement> prepare_persistent(std::string_view sql);

  /// Rowid of the last successful INSERT on this connection.
  std::int64_t last_insert_rowid() const;
  /// Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int changes() const;
  /// True while a transaction (Transaction::begin) is open on this connection.
  bool in_transaction() const;

  /// Highest applied migration version (0 for an empty database).
  int schema_version();

  /// The file this connection opened.
  const std::filesystem::path& path() const { return path_; }

 private:
  friend class Transaction;
  struct Closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
  };
  Database(std::filesystem::path path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  /// Runs constant SQL (possibly several statements): pragmas and migration files only.
  Result<void> exec_constant(const char* sql);
  /// prepare() with sqlite3_prepare_v3 flags.
  Result<Statement> prepare_with(std::string_view sql, unsigned int flags);
  void migrate(std::span<const Migration> migrations);

  std::filesystem::path path_;
  std::unique_ptr<sqlite3, Closer> db_;
};

/// A transaction that nests: the outermost is BEGIN IMMEDIATE (it holds the write lock from
/// the start, so it never fails half-way because the other connection wrote meanwhile) and
/// its commit() makes the changes durable; an inner one is a SAVEPOINT whose commit() folds
/// them into its parent. Destroying an uncommitted Transaction rolls its changes back.
/// Must not outlive its Database.
class Transaction {
 public:
  /// Starts a (nested) transaction. Errors: kBusy (the write lock stayed taken longer than
  /// Database::kBusyTimeoutMs), kInternal.
  static Result<Transaction> begin(Database& db);

  Transaction(Transaction&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), outermost_(other.outermost_) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  /// Keeps the changes. Errors: kBusy, kInternal (the changes are then rolled back).
  Result<void> commit();

 private:
  Transaction(Database* db, bool outermost) : db_(db), outermost_(outermost) {}
  Database* db_;
  bool outermost_;
};

}  // namespace gw::storage

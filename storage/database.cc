// SQLite connection, statements, savepoint transactions and migrations.
#include "storage/database.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace gw::storage {
namespace {

// SQLITE_TRANSIENT spelled without the C-style cast of sqlite3.h: SQLite copies the value.
const sqlite3_destructor_type kTransient =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));

std::string describe(sqlite3* db, int rc) {
  std::string text = sqlite3_errstr(rc);
  if (db != nullptr && sqlite3_errcode(db) == rc) {
    text = sqlite3_errmsg(db);
  }
  return text;
}

Error to_error(sqlite3* db, int rc) {
  std::string message = "sqlite: " + describe(db, rc);
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return {Errc::kAlreadyExists, std::move(message)};
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_DATATYPE:
    case SQLITE_CONSTRAINT:
      return {Errc::kConstraint, std::move(message)};
    default:
      break;
  }
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
    return {Errc::kBusy, std::move(message)};
  }
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    return {Errc::kConstraint, std::move(message)};
  }
  return {Errc::kInternal, std::move(message)};
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

// ---- Statement --------------------------------------------------------------------------

void Statement::note_bind(int rc, int index) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
    bind_index_ = index;
  }
}

Statement& Statement::bind_int64(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_.get(), index, value), index);
  return *this;
}

Statement& Statement::bind_bool(int index, bool value) { return bind_int64(index, value ? 1 : 0); }

Statement& Statement::bind_text(int index, std::string_view value) {
  note_bind(
      sqlite3_bind_text64(stmt_.get(), index, value.data(), value.size(), kTransient, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::bind_text_static(int index, std::string_view value) {
  // A null pointer would bind SQL NULL, not empty text.
  const char* data = value.data() != nullptr ? value.data() : "";
  note_bind(sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_STATIC,
                                SQLITE_UTF8),
            index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view octets) {
  // A zero-length BLOB needs a non-null pointer, or SQLite stores NULL.
  static constexpr char kEmpty = 0;
  const char* data = octets.empty() ? &kEmpty : octets.data();
  note_bind(sqlite3_bind_blob64(stmt_.get(), index, data, octets.size(), kTransient), index);
  return *this;
}

Statement& Statement::bind_null(int index) {
  note_bind(sqlite3_bind_null(stmt_.get(), index), index);
  return *this;
}

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) {
    return fail(Errc::kInternal, "sqlite: binding parameter " + std::to_string(bind_index_) + ": " +
                                     sqlite3_errstr(bind_rc_));
  }
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // The extended code is on the connection; sqlite3_step returns it too with
  // sqlite3_extended_result_codes on.
  Error error = to_error(db_, rc);
  sqlite3_reset(stmt_.get());
  return boost::outcome_v2::failure(std::move(error));
}

Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.as_failure();
    if (!row.value()) return ok();
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());  // its return repeats the last step's error, already reported
  sqlite3_clear_bindings(stmt_.get());
  bind_rc_ = SQLITE_OK;
  bind_index_ = 0;
}

std::int64_t Statement::column_int64(int index) const {
  return sqlite3_column_int64(stmt_.get(), index);
}

bool Statement::column_bool(int index) const { return column_int64(index) != 0; }

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_.get(), index);
  int size = sqlite3_column_bytes(stmt_.get(), index);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string Statement::column_blob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_.get(), index);
  int size = sqlite3_column_bytes(stmt_.get(), index);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob), static_cast<std::size_t>(size));
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL;
}

// ---- Database ---------------------------------------------------------------------------

Database Database::open(const std::filesystem::path& path, std::span<const Migration> migrations) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Database db(path, raw);  // owns `raw` even when the open failed
  if (rc != SQLITE_OK) {
    throw std::runtime_error("cannot open database " + path.string() + ": " + describe(raw, rc));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);

  // journal_mode answers with the mode actually in effect; anything but "wal" (a read-only
  // directory, a network file system) is refused rather than silently degraded.
  auto journal = db.prepare("PRAGMA journal_mode = WAL");
  if (!journal) throw std::runtime_error("cannot set WAL mode: " + journal.error().message);
  auto row = journal.value().step();
  if (!row || !row.value() || journal.value().column_text(0) != "wal") {
    throw std::runtime_error("cannot switch " + path.string() + " to WAL journal mode");
  }
  journal.value().run().value();  // drain; cannot fail after the row was produced

  // Statement and savepoint journals (the multi-row audit INSERTs inside the writer's
  // transaction need one) and temporary sort b-trees stay in memory: on disk each spilled
  // to a new file under /var/tmp, a few thousand write() calls a second at 5,000 audit
  // rows/s (strace, session 22). They hold only pages a statement changes, bounded by the
  // largest audit batch and query limit.
  if (auto set = db.exec_constant("PRAGMA temp_store = MEMORY"); !set) {
    throw std::runtime_error("cannot keep temporary files in memory: " + set.error().message);
  }
  if (auto set = db.exec_constant("PRAGMA foreign_keys = ON"); !set) {
    throw std::runtime_error("cannot enable foreign keys: " + set.error().message);
  }
  auto fk = db.prepare("PRAGMA foreign_keys");
  if (!fk) throw std::runtime_error("cannot read foreign_keys: " + fk.error().message);
  auto fk_row = fk.value().step();
  if (!fk_row || !fk_row.value() || fk.value().column_int64(0) != 1) {
    throw std::runtime_error("this SQLite library does not enforce foreign keys");
  }

  db.migrate(migrations);
  return db;
}

Result<Statement> Database::prepare(std::string_view sql) { return prepare_with(sql, 0); }

Result<Statement> Database::prepare_persistent(std::string_view sql) {
  return prepare_with(sql, SQLITE_PREPARE_PERSISTENT);
}

Result<Statement> Database::prepare_with(std::string_view sql, unsigned int flags) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), flags, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    Error error = to_error(db_.get(), rc);
    error.message += " in: " + std::string(sql.substr(0, 80));
    return boost::outcome_v2::failure(std::move(error));
  }
  return Statement(db_.get(), stmt);
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }

int Database::changes() const { return sqlite3_changes(db_.get()); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }

Result<void> Database::exec_constant(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    Error error = to_error(db_.get(), rc);
    if (message != nullptr) error.message = std::string("sqlite: ") + message;
    sqlite3_free(message);
    return boost::outcome_v2::failure(std::move(error));
  }
  return ok();
}

int Database::schema_version() {
  auto stmt = prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!stmt) return 0;  // the bookkeeping table does not exist yet
  auto row = stmt.value().step();
  if (!row || !row.value()) return 0;
  return static_cast<int>(stmt.value().column_int64(0));
}

void Database::migrate(std::span<const Migration> migrations) {
  // BEGIN IMMEDIATE takes the write lock first, so two processes opening the same new file
  // cannot both decide to apply migration 1.
  if (auto begin = exec_constant("BEGIN IMMEDIATE"); !begin) {
    throw std::runtime_error("cannot start the migration transaction: " + begin.error().message);
  }
  auto rollback = [this] { (void)exec_constant("ROLLBACK"); };
  auto bookkeeping = exec_constant(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL"
      ") STRICT");
  if (!bookkeeping) {
    rollback();
    throw std::runtime_error("cannot create schema_migrations: " + bookkeeping.error().message);
  }
  const int current = schema_version();
  const int known = migrations.empty() ? 0 : migrations.back().version;
  if (current > known) {
    rollback();
    throw std::runtime_error("database " + path_.string() + " has schema version " +
                             std::to_string(current) + ", newer than this program knows (" +
                             std::to_string(known) + ")");
  }
  for (const Migration& migration : migrations) {
    if (migration.version <= current) continue;
    // The embedded text is a constant of the build, so exec (several statements) is safe.
    const std::string sql(migration.sql);
    auto applied = exec_constant(sql.c_str());
    if (applied) {
      auto record = prepare(
          "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)");
      if (record) {
        record.value()
            .bind_int64(1, migration.version)
            .bind_text(2, migration.name)
            .bind_int64(3, now_ms());
        applied = record.value().run();
      } else {
        applied = record.as_failure();
      }
    }
    if (!applied) {
      rollback();
      throw std::runtime_error("migration " + std::string(migration.name) +
                               " failed: " + applied.error().message);
    }
    spdlog::info("storage: applied migration {}", migration.name);
  }
  if (auto commit = exec_constant("COMMIT"); !commit) {
    rollback();
    throw std::runtime_error("cannot commit migrations: " + commit.error().message);
  }
}

// ---- Transaction ------------------------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db) {
  // The outermost transaction takes the write lock at once (BEGIN IMMEDIATE), waiting for
  // it up to kBusyTimeoutMs. A deferred one that read first could not upgrade once the
  // other connection (the audit writer, which commits a batch every
  // AuditWriter::kFlushInterval) had committed since its read began: SQLite then fails at
  // once with SQLITE_BUSY, whatever the busy timeout, and an admin call got UNAVAILABLE
  // (seen in CI, session 7). Inner ones are savepoints.
  const bool outermost = sqlite3_get_autocommit(db.db_.get()) != 0;
  if (auto started = db.exec_constant(outermost ? "BEGIN IMMEDIATE" : "SAVEPOINT gw_tx");
      !started) {
    return started.as_failure();
  }
  return Transaction(&db, outermost);
}

Result<void> Transaction::commit() {
  if (db_ == nullptr) return fail(Errc::kInternal, "transaction already finished");
  auto released = db_->exec_constant(outermost_ ? "COMMIT" : "RELEASE gw_tx");
  if (!released) return released;  // still open: the destructor rolls it back
  db_ = nullptr;
  return ok();
}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  if (outermost_) {
    (void)db_->exec_constant("ROLLBACK");
    return;
  }
  // ROLLBACK TO undoes the savepoint's changes but keeps it; RELEASE then removes it.
  (void)db_->exec_constant("ROLLBACK TO gw_tx");
  (void)db_->exec_constant("RELEASE gw_tx");
}

}  // namespace gw::storage

// RAII owners for SQLite's C handles, and a small prepared-statement wrapper.
//
// Every sqlite3* and sqlite3_stmt* the agent owns lives in one of these (the store's table
// classes borrow the store's connection), so a failing call can return early without leaking a
// handle or leaving a statement un-reset (an un-reset statement keeps a read transaction open
// and would block WAL checkpoints forever).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "buffer/base/status.h"

namespace meterd {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;

// Opens a database file: read-write, creating it if missing, or `read_only` (meterctl's look at
// a buffer's dead letters). The store and the uplink's OutboxReader both open read-write; the
// reader only ever reads.
Status open_database(const std::string& path, bool read_only, SqliteDb* out);

// Runs one or more statements that return no rows (schema, pragmas, BEGIN/COMMIT).
Status exec(sqlite3* db, std::string_view sql);

// A prepared statement (persistent: prepared once, run many times). Reset after each use by a
// StatementUse, or by run().
class Statement {
 public:
  Statement() = default;
  Status prepare(sqlite3* db, std::string_view sql);

  sqlite3_stmt* get() const { return stmt_.get(); }

  void bind(int index, int64_t value) { sqlite3_bind_int64(get(), index, value); }
  void bind(int index, double value) { sqlite3_bind_double(get(), index, value); }
  void bind_text(int index, std::string_view value) {
    sqlite3_bind_text(get(), index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int index, std::string_view value) {
    sqlite3_bind_blob(get(), index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  }

  // Steps once. Returns true while a row is available; errors are reported through `status`.
  bool step(Status* status);
  // Steps a statement that returns no rows.
  Status run();
  void reset() {
    sqlite3_reset(get());
    sqlite3_clear_bindings(get());
  }

  int64_t column_int(int column) const { return sqlite3_column_int64(get(), column); }
  double column_double(int column) const { return sqlite3_column_double(get(), column); }
  std::string_view column_text(int column) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

// Resets a statement when it goes out of scope, whatever path the caller returns by.
class StatementUse {
 public:
  explicit StatementUse(Statement& stmt) : stmt_(stmt) {}
  ~StatementUse() { stmt_.reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  Statement& stmt_;
};

// Runs a query that returns one integer; `value` is left as it was when there is no row.
Status query_int(Statement& query, int64_t* value);

Status sqlite_error(sqlite3* db, std::string_view what);

}  // namespace meterd

// Thin error-checking layer over SQLite's C API: every failure becomes a Status naming what was
// being done and SQLite's own message.
#include "buffer/sqlite/sqlite_handle.h"

#include <fmt/format.h>

namespace meterd {

Status sqlite_error(sqlite3* db, std::string_view what) {
  return Status::error(fmt::format("{}: {}", what, db ? sqlite3_errmsg(db) : "no database"));
}

Status open_database(const std::string& path, bool read_only, SqliteDb* out) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX | (read_only ? SQLITE_OPEN_READONLY
                                               : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteDb db(raw);
  if (rc != SQLITE_OK) return sqlite_error(raw, fmt::format("opening {}", path));
  // The store and the uplink share the file; a short wait beats failing on a checkpoint.
  sqlite3_busy_timeout(raw, 5000);
  // The default page cache (2 MB) is smaller than the hot part of a buffer with a backlog: the
  // outbox's key index and the dedup table are written at random places, and every miss became
  // a pread plus, at commit, a rewrite of the page. The cache grows only as pages are used, so
  // an idle agent does not pay for it.
  if (Status s = exec(raw, "PRAGMA cache_size=-8192"); !s) return s;  // KiB: 8 MiB
  *out = std::move(db);
  return Status::ok();
}

Status exec(sqlite3* db, std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    Status status = Status::error(fmt::format("{}: {}", text.substr(0, 60), message ? message : ""));
    sqlite3_free(message);
    return status;
  }
  return Status::ok();
}

Status Statement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &raw, nullptr) != SQLITE_OK) {
    return sqlite_error(db, fmt::format("preparing '{}'", sql.substr(0, 60)));
  }
  stmt_.reset(raw);
  return Status::ok();
}

bool Statement::step(Status* status) {
  int rc = sqlite3_step(get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) *status = sqlite_error(sqlite3_db_handle(get()), "step");
  return false;
}

Status Statement::run() {
  Status status;
  StatementUse use(*this);
  while (step(&status)) {
  }
  return status;
}

Status query_int(Statement& query, int64_t* value) {
  Status status;
  StatementUse use(query);
  if (query.step(&status)) *value = query.column_int(0);
  return status;
}

std::string_view Statement::column_text(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(get(), column));
  int size = sqlite3_column_bytes(get(), column);
  return data ? std::string_view(data, static_cast<size_t>(size)) : std::string_view();
}

}  // namespace meterd

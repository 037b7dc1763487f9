// The buffer file's schema: creation and version check (the layout is described in FORMAT.md).
#pragma once

#include <sqlite3.h>

#include "buffer/base/status.h"

namespace meterd {

inline constexpr int kSchemaVersion = 6;

// Creates the tables of a new buffer, or migrates an existing one to kSchemaVersion; refuses a
// file from a newer build. Runs inside its own transaction.
Status apply_schema(sqlite3* db);

// The SQL that takes a file from `from_version` to the next (for tests that build old files).
// It may call meterd_identity_hash(): register_schema_functions() first.
const char* schema_migration(int from_version);

// Registers meterd_identity_hash(identity): series_identity_hash() as a signed integer, the
// series table's lookup key.
Status register_schema_functions(sqlite3* db);

}  // namespace meterd

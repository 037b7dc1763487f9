// The buffer file's schema: creation and version check (the layout is described in FORMAT.md).
#pragma once

#include <sqlite3.h>

#include "buffer/status.h"

namespace meterd {

inline constexpr int kSchemaVersion = 2;

// Creates the tables of a new buffer, or checks that an existing one has a version this build
// understands and migrates an older one step by step. Runs inside its own transaction.
Status apply_schema(sqlite3* db);

}  // namespace meterd

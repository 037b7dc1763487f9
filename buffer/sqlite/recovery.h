// Recovery of an unreadable buffer at start.
//
// A buffer that SQLite cannot open, or whose integrity check fails (truncated by a full disk or
// a copy, corrupted by hardware), must not put the agent into a crash loop: the file (with its
// -wal and -shm) is moved aside to `<buffer>.corrupt-<unix time>` for a human to inspect or
// salvage, the event is logged and counted in `<buffer>.recoveries`, and the agent starts on a
// new, empty buffer. What the old file held and had not been sent is not lost from disk, only
// from the pipeline; the log line says where it is.
#pragma once

#include <string>

#include "buffer/base/status.h"

namespace meterd {

// Checks `path` (a missing file is fine: it will be created). If it is unreadable, moves it
// aside, sets `moved_to` and says why in `reason`; returns an error only when the move failed.
Status check_or_move_aside(const std::string& path, std::string* moved_to, std::string* reason);

// How many times buffers at `path` were moved aside so far.
int recoveries_so_far(const std::string& path);

}  // namespace meterd

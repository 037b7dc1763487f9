// `meterctl dlq list`: shows the dead letters kept in a buffer file (newest first): when, which
// listener, why, and the event as received.
#pragma once

#include <ostream>
#include <string>

namespace meterd {

// Returns the process exit code.
int list_dead_letters(const std::string& buffer_path, int limit, std::ostream& out);

}  // namespace meterd

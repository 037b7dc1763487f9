// RFC 3339 timestamps (CloudEvents `time`) to unix milliseconds.
#pragma once

#include <cstdint>
#include <string_view>

namespace meterd {

// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` ('t', 'z' and a space separator too).
// Digits of the fraction past milliseconds are truncated. False if malformed or out of range.
bool parse_rfc3339_ms(std::string_view text, int64_t* unix_ms);

}  // namespace meterd

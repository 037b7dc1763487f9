// Text for a terminal: strings from meterd made safe to print, and the units meterctl shows.
//
// Strings in /status (last_error, reasons, the agent id) carry what brokers, files and
// configurations said, so they may hold escape sequences; printed as they are, one could move
// the cursor, retitle the window or hide the rest of the screen. terminal_safe() shows every
// control character as an escape (\n, \x1b, \u009b) and drops nothing silently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd {

// `text` with C0 and C1 controls, DEL, bidirectional overrides and invalid UTF-8 written as
// visible escapes; cut to at most `max_chars` characters (a cut ends in "…").
std::string terminal_safe(std::string_view text, size_t max_chars = std::string::npos);

std::string format_bytes(int64_t bytes);      // "512 B", "1.5 KiB", "3.0 GiB"
std::string format_duration(double seconds);  // "0.4 s", "42 s", "3m 05s", "2h 07m", "3d 04h"
std::string format_rate(double per_second);   // "0", "0.5", "12.3", "1.2k", "3.4M"
std::string format_latency(double seconds);   // "-" if negative, "850 µs", "4.2 ms", "1.30 s"
std::string format_unix_ms(int64_t unix_ms);  // "2024-05-01T12:00:00Z" (UTC)

}  // namespace meterd

// Logging set-up for the daemon: text on stderr from the first line of main (so a config error
// is printed), then the configured format and level once the config loaded. Call from the main
// thread before any other thread logs: the default logger is replaced, which spdlog does not
// guard against concurrent logging.
#pragma once

#include <string>

#include "agent/config/config.h"

namespace meterd {

// True for the words log.level and --log-level take: trace, debug, info, warn, error.
bool is_log_level(const std::string& level);

// Text lines on stderr (spdlog's default pattern) at `level` (a word is_log_level accepts).
void start_text_logging(const std::string& level);

// Switches to `log.format` at `log.level`, or at `level_override` when it is not empty (the
// command line's --log-level wins over the file).
void apply_log_config(const Config::Log& log, const std::string& level_override);

}  // namespace meterd

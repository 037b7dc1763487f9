// The daemon's logger: one spdlog logger named "meterd" on stderr (the journal under systemd),
// as text or as one JSON object a line (json_formatter.h). The logger is replaced whole when the
// format changes, rather than given a new formatter, so the text logger's colours never wrap a
// JSON line.
#include "agent/logging/log_setup.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "agent/logging/json_formatter.h"

namespace meterd {
namespace {

spdlog::level::level_enum level_of(const std::string& level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return spdlog::level::info;
}

void install(std::shared_ptr<spdlog::sinks::sink> sink, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("meterd", std::move(sink));
  logger->set_level(level_of(level));
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

bool is_log_level(const std::string& level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error";
}

void start_text_logging(const std::string& level) {
  install(std::make_shared<spdlog::sinks::stderr_color_sink_mt>(), level);
}

void apply_log_config(const Config::Log& log, const std::string& level_override) {
  const std::string& level = level_override.empty() ? log.level : level_override;
  if (log.format == "json") {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<JsonLogFormatter>());
    install(std::move(sink), level);
  } else {
    install(std::make_shared<spdlog::sinks::stderr_color_sink_mt>(), level);
  }
}

}  // namespace meterd

// Finding meterd from the command line and its config (see ctl_target.h).
#include "agent/ctl/ctl_target.h"

#include <vector>

#include "agent/config/config.h"

namespace meterd {
namespace {

// A wildcard listening address is reached on loopback.
std::string connect_host(const std::string& host) {
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::" || host == "[::]") return "::1";
  return host;
}

bool apply_config(const std::string& path, CtlTarget* target, std::string* error) {
  Config config;
  std::vector<std::string> errors;
  if (!load_config_file(path, &config, &errors)) {
    *error = errors.empty() ? "cannot read " + path : errors.front();
    if (errors.size() > 1) *error += " (and " + std::to_string(errors.size() - 1) + " more)";
    return false;
  }
  if (config.listeners.admin) {
    target->has_admin = true;
    target->admin.host = connect_host(config.listeners.admin->host);
    target->admin.port = std::to_string(config.listeners.admin->port);
  } else {
    target->no_admin_reason = path + " has no listeners.admin (give --admin HOST:PORT)";
  }
  target->buffer_path = config.buffer.path;
  target->buffer_limit_bytes = config.buffer.max_size_bytes;
  return true;
}

}  // namespace

bool resolve_target(const TargetOptions& options, CtlTarget* target, std::string* error) {
  *target = CtlTarget();
  if (options.config_path.empty() && options.admin.empty()) {
    *error = "give --config FILE (meterd's config) or --admin HOST:PORT";
    return false;
  }
  if (!options.config_path.empty() && !apply_config(options.config_path, target, error)) {
    return false;
  }
  if (!options.admin.empty()) {
    if (!parse_admin_address(options.admin, &target->admin)) {
      *error = "--admin takes HOST:PORT, not '" + options.admin + "'";
      return false;
    }
    target->has_admin = true;
    target->no_admin_reason.clear();
  }
  if (!options.buffer_path.empty()) target->buffer_path = options.buffer_path;
  return true;
}

StatusReading read_status(const CtlTarget& target, std::chrono::milliseconds timeout) {
  StatusReading reading;
  if (!target.has_admin) {
    reading.error = target.no_admin_reason;
    return reading;
  }
  AdminReply reply = admin_get(target.admin, "/status", timeout);
  if (!reply.answered()) {
    reading.not_running = reply.outcome == AdminReply::Outcome::kRefused;
    reading.error = reply.error;
    return reading;
  }
  if (reply.http_status != 200) {
    reading.error = "/status answered HTTP " + std::to_string(reply.http_status) +
                    ": is this meterd's admin port?";
    return reading;
  }
  if (Status s = parse_status(reply.body, &reading.doc); !s) {
    reading.error = "its /status is " + s.message();
    return reading;
  }
  reading.ok = true;
  return reading;
}

}  // namespace meterd

// CtlTarget: which meterd `meterctl status` and `meterctl top` look at: the admin address
// (--admin, else the config's listeners.admin) and the buffer (--buffer, else the config's
// buffer.path) with its limit, read from the config once; and read_status(), one reading of its
// /status with every way that can fail told apart.
#pragma once

#include <cstdint>
#include <string>

#include "agent/ctl/admin_client.h"
#include "agent/ctl/status_doc.h"

namespace meterd {

struct TargetOptions {
  std::string config_path;  // meterd's config; optional when --admin (and --buffer) are given
  std::string admin;        // HOST:PORT
  std::string buffer_path;
};

struct CtlTarget {
  bool has_admin = false;
  AdminAddress admin;
  std::string no_admin_reason;  // why has_admin is false
  std::string buffer_path;      // empty: unknown
  int64_t buffer_limit_bytes = 0;  // buffer.max_size; 0: unknown
};

// False with a one-line `error` when the options cannot name a meterd at all (no config and no
// --admin, an unreadable or invalid config, a malformed --admin).
bool resolve_target(const TargetOptions& options, CtlTarget* target, std::string* error);

struct StatusReading {
  bool ok = false;           // doc holds meterd's answer
  bool not_running = false;  // nothing listens at the address
  std::string error;         // otherwise: why there is no answer, or why it is not meterd's
  StatusDoc doc;
};

// GETs /status within `timeout` and parses it. Never throws.
StatusReading read_status(const CtlTarget& target, std::chrono::milliseconds timeout);

}  // namespace meterd

// StatusReport: everything `meterctl status` learned, and its two renderings: text for a person,
// one JSON object for a script (its shape is documented in agent/ctl/README.md).
//
// Rendering is pure (a report in, text out), so the tests feed it fixtures, hostile strings
// included: every string that came from meterd or the buffer goes through terminal_safe() in the
// text form and through the JSON escaper in the JSON form.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "agent/ctl/status_doc.h"
#include "agent/ctl/status_verdict.h"
#include "buffer/store/buffer_gauges.h"

namespace meterd {

struct StatusReport {
  std::string admin;  // the address asked; empty when none was known
  Judgement judgement;
  int64_t now_unix_ms = 0;

  // meterd answered /status:
  bool reachable = false;
  StatusDoc doc;
  StatusRates rates;

  // meterd did not answer (or not as meterd does):
  bool not_running = false;  // nothing listens at the address
  std::string error;         // why it could not be asked
  std::string buffer_path;   // where the backlog was read from instead
  bool buffer_read = false;
  BufferGaugeValues buffer;
  std::string buffer_error;  // why the buffer could not be read
  int64_t buffer_limit_bytes = 0;  // buffer.max_size of the config; 0: unknown
};

void render_status_text(const StatusReport& report, std::ostream& out);
std::string render_status_json(const StatusReport& report);

}  // namespace meterd

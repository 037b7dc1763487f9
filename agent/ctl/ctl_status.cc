// `meterctl status` (see ctl_status.h): gather a StatusReport, judge it, render it.
#include "agent/ctl/ctl_status.h"

#include <chrono>
#include <memory>
#include <thread>

#include "agent/ctl/status_render.h"
#include "buffer/base/clock.h"

namespace meterd {
namespace {

constexpr std::chrono::milliseconds kTimeout{2000};

// meterd is not there to ask: what it would send is in its buffer.
void read_backlog(const CtlTarget& target, StatusReport* report) {
  report->buffer_path = target.buffer_path;
  report->buffer_limit_bytes = target.buffer_limit_bytes;
  if (target.buffer_path.empty()) return;
  std::unique_ptr<BufferGauges> gauges;
  Status s = BufferGauges::open(target.buffer_path, &gauges);
  if (s) s = gauges->read(&report->buffer);
  if (!s) {
    report->buffer_error = s.message();
    return;
  }
  report->buffer_read = true;
}

void report_unreachable(const CtlTarget& target, const StatusReading& reading,
                        StatusReport* report) {
  report->reachable = false;
  report->not_running = reading.not_running;
  report->error = reading.error;
  report->judgement = Judgement();
  report->judgement.add(Verdict::kDown, reading.not_running ? "meterd is not running"
                                                            : "meterd is not answering");
  read_backlog(target, report);
}

}  // namespace

int run_status(const StatusOptions& options, std::ostream& out, std::ostream& err) {
  CtlTarget target;
  std::string error;
  if (!resolve_target(options.target, &target, &error)) {
    err << "meterctl status: " << error << "\n";
    return 2;
  }
  StatusReport report;
  report.admin = target.has_admin ? target.admin.text() : "";
  StatusReading first = read_status(target, kTimeout);
  int64_t first_ms = steady_clock_ms();
  StatusReading second;
  if (first.ok) {
    std::this_thread::sleep_for(std::chrono::duration<double>(options.interval_s));
    second = read_status(target, kTimeout);
  }
  report.now_unix_ms = wall_clock_ms();
  if (!first.ok || !second.ok) {
    report_unreachable(target, first.ok ? second : first, &report);
  } else {
    report.reachable = true;
    report.doc = second.doc;
    // meterd's own clock dates each reading; the caller's includes the requests' time.
    double seconds = second.doc.uptime_seconds - first.doc.uptime_seconds;
    if (seconds <= 0) seconds = static_cast<double>(steady_clock_ms() - first_ms) / 1000.0;
    report.rates = compute_rates(first.doc, second.doc, seconds);
    report.judgement = judge_status(first.doc, second.doc);
  }
  if (options.json) out << render_status_json(report);
  else render_status_text(report, out);
  return report.judgement.exit_code();
}

}  // namespace meterd

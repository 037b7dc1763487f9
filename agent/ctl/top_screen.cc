// Building a frame of `meterctl top` (see top_screen.h). The layout fits 80×24: a header, the
// transports' rates, the backlog and its trend, then delivery, commits and dead letters. Every
// string from meterd goes through terminal_safe(); lines are cut by characters, not bytes, so a
// cut never splits a UTF-8 sequence.
#include "agent/ctl/top_screen.h"

#include <fmt/format.h>

#include "agent/ctl/terminal_text.h"

namespace meterd {
namespace {

// Cuts `line` to `width` characters (UTF-8 continuation bytes do not count).
std::string fit(const std::string& line, int width) {
  int chars = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (++chars > width) return line.substr(0, i);
  }
  return line;
}

std::string trend(double per_second, const char* unit) {
  if (per_second > 0.05) return fmt::format("↑ +{}{}/s", format_rate(per_second), unit);
  if (per_second < -0.05) return fmt::format("↓ {}{}/s", format_rate(per_second), unit);
  return "= steady";
}

std::string rate_or_dash(const TopFrame& f, double value) {
  return f.has_rates ? format_rate(value) : "-";
}

void header(const TopFrame& f, std::vector<std::string>* lines) {
  const StatusDoc& d = f.doc;
  lines->push_back(fmt::format("meterd {}  agent {}  {}  up {}  at {}",
                               terminal_safe(d.version, 20), terminal_safe(d.agent_id, 24),
                               terminal_safe(d.state, 12), format_duration(d.uptime_seconds),
                               f.admin));
  lines->push_back(fmt::format(
      "health {}  ready {}  broker {}    {}  (q: quit)",
      d.healthy ? "ok" : "UNHEALTHY", d.ready ? "yes" : "NO",
      d.broker_connected ? "connected" : "NOT CONNECTED", format_unix_ms(f.now_unix_ms)));
  if (!d.healthy) lines->push_back("  " + terminal_safe(d.health_reason, 200));
  if (!d.ready) lines->push_back("  not ready: " + terminal_safe(d.ready_reason, 200));
  lines->push_back("");
}

void transports(const TopFrame& f, std::vector<std::string>* lines) {
  lines->push_back(fmt::format("{:<16}{:>13}{:>13}{:>13}", "TRANSPORT", "RECEIVED/s",
                               "ACCEPTED/s", "REJECTED/s"));
  TransportRates total{"total"};
  for (size_t i = 0; i < f.doc.transports.size(); ++i) {
    TransportRates t{f.doc.transports[i].name};
    if (f.has_rates && i < f.rates.transports.size()) t = f.rates.transports[i];
    total.received += t.received;
    total.accepted += t.accepted;
    total.rejected += t.rejected;
    lines->push_back(fmt::format("{:<16}{:>13}{:>13}{:>13}", terminal_safe(t.name, 15),
                                 rate_or_dash(f, t.received), rate_or_dash(f, t.accepted),
                                 rate_or_dash(f, t.rejected)));
  }
  lines->push_back(fmt::format("{:<16}{:>13}{:>13}{:>13}", "total", rate_or_dash(f, total.received),
                               rate_or_dash(f, total.accepted), rate_or_dash(f, total.rejected)));
  lines->push_back("");
}

void backlog(const TopFrame& f, std::vector<std::string>* lines) {
  const StatusDoc& d = f.doc;
  lines->push_back("BACKLOG");
  lines->push_back(fmt::format("  outbox records {:>12}   {}", d.outbox_records,
                               f.has_rates ? trend(f.rates.outbox_records, "") : ""));
  lines->push_back(fmt::format("  oldest waiting {:>12}   {}",
                               format_duration(d.outbox_oldest_age_seconds),
                               f.has_rates ? trend(f.rates.outbox_oldest_age, " s") : ""));
  double percent = buffer_percent(d.buffer_bytes, d.buffer_limit_bytes);
  lines->push_back(fmt::format("  buffer         {:>12}   of {} ({:.1f} %)",
                               format_bytes(d.buffer_bytes), format_bytes(d.buffer_limit_bytes),
                               percent < 0 ? 0.0 : percent));
  lines->push_back("");
}

void delivery(const TopFrame& f, std::vector<std::string>* lines) {
  const StatusDoc& d = f.doc;
  const StatusRates& r = f.rates;
  lines->push_back("DELIVERY");
  lines->push_back(fmt::format("  delivered/s    {:>12}   mean latency {}   errors/s {}",
                               rate_or_dash(f, r.delivered),
                               f.has_rates ? format_latency(r.delivery_latency_mean_s) : "-",
                               rate_or_dash(f, r.delivery_errors)));
  lines->push_back(fmt::format("  commits/s      {:>12}   mean commit {}   failures {}",
                               rate_or_dash(f, r.commits),
                               f.has_rates ? format_latency(r.commit_mean_s) : "-",
                               d.commit_failures));
  lines->push_back(fmt::format("  dead letters   {:>12}   {} new, {} evicted", d.dead_letters,
                               f.has_rates ? fmt::format("+{}", r.dead_letters_added) : "-",
                               d.dead_letters_evicted));
  std::string last = "none since meterd started";
  if (d.last_delivery_unix_ms > 0) {
    last = fmt::format("{} ({} ago)", format_unix_ms(d.last_delivery_unix_ms),
                       format_duration((f.now_unix_ms - d.last_delivery_unix_ms) / 1000.0));
  }
  lines->push_back("  last delivery  " + last);
  lines->push_back("  last error     " +
                   (d.last_error.empty() ? std::string("none") : terminal_safe(d.last_error, 200)));
}

void unreachable(const TopFrame& f, std::vector<std::string>* lines) {
  lines->push_back(fmt::format("meterd top    {}    (q: quit)", format_unix_ms(f.now_unix_ms)));
  lines->push_back("");
  lines->push_back(fmt::format("meterd not reachable at {}: {}", f.admin,
                               terminal_safe(f.error, 200)));
  std::string last = "no answer yet";
  if (f.last_answer_unix_ms > 0) {
    last = fmt::format("last answer {} ago",
                       format_duration((f.now_unix_ms - f.last_answer_unix_ms) / 1000.0));
  }
  lines->push_back("retrying every second; " + last);
}

}  // namespace

std::vector<std::string> top_screen(const TopFrame& frame, int width, int height) {
  std::vector<std::string> lines;
  if (frame.reachable) {
    header(frame, &lines);
    transports(frame, &lines);
    backlog(frame, &lines);
    delivery(frame, &lines);
  } else {
    unreachable(frame, &lines);
  }
  if (height > 0 && lines.size() > static_cast<size_t>(height)) lines.resize(height);
  for (std::string& line : lines) line = fit(line, width);
  return lines;
}

}  // namespace meterd

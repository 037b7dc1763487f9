// Rendering a StatusReport (see status_render.h): text in labelled rows that fit 80 columns,
// or one JSON object.
#include "agent/ctl/status_render.h"

#include <fmt/format.h>

#include "buffer/base/json_out.h"
#include "agent/ctl/terminal_text.h"

namespace meterd {
namespace {

constexpr size_t kMaxShown = 200;  // characters of a reason or an error shown in the text form

std::string row(std::string_view label, std::string_view value) {
  return fmt::format("{:<14}{}\n", label, value);
}

std::string verdict_line(const Judgement& j) {
  std::string line = fmt::format("{} (exit {})", verdict_name(j.verdict), j.exit_code());
  for (size_t i = 0; i < j.problems.size(); ++i) {
    line += (i == 0 ? ": " : ", ") + terminal_safe(j.problems[i], kMaxShown);
  }
  return line;
}

std::string buffer_usage(int64_t bytes, int64_t limit) {
  double percent = buffer_percent(bytes, limit);
  if (percent < 0) return format_bytes(bytes) + " (no limit known)";
  return fmt::format("{} of {} ({:.1f} %)", format_bytes(bytes), format_bytes(limit), percent);
}

std::string backlog_text(int64_t records, double oldest_age_seconds) {
  if (records == 0) return "0 outbox records: everything is delivered";
  return fmt::format("{} outbox records, the oldest waiting {}", records,
                     format_duration(oldest_age_seconds));
}

std::string last_delivery_text(const StatusDoc& doc, const StatusRates& rates, int64_t now_ms) {
  std::string text = fmt::format("{}/s, mean latency {}", format_rate(rates.delivered),
                                 format_latency(rates.delivery_latency_mean_s));
  if (doc.last_delivery_unix_ms <= 0) return text + "; none since meterd started";
  double ago = static_cast<double>(now_ms - doc.last_delivery_unix_ms) / 1000.0;
  return text + fmt::format("; last {} ({} ago)", format_unix_ms(doc.last_delivery_unix_ms),
                            format_duration(ago));
}

std::string dead_letters_text(const StatusDoc& doc, const StatusRates& rates) {
  std::string text = fmt::format("{} kept, {} evicted, {} new in {:.1f} s", doc.dead_letters,
                                 doc.dead_letters_evicted, rates.dead_letters_added,
                                 rates.seconds);
  const char* separator = ": ";
  for (const auto& [reason, count] : doc.dead_letters_by_reason) {
    if (count == 0) continue;
    text += fmt::format("{}{} {}", separator, terminal_safe(reason, 40), count);
    separator = ", ";
  }
  return text;
}

void render_events(const StatusReport& r, std::ostream& out) {
  out << fmt::format("{:<14}{:<13}{:>10} {:>10} {:>10}\n", "events/s",
                     fmt::format("(over {:.1f} s)", r.rates.seconds), "received", "accepted",
                     "rejected");
  for (const TransportRates& t : r.rates.transports) {
    out << fmt::format("  {:<25}{:>10} {:>10} {:>10}\n", terminal_safe(t.name, 24),
                       format_rate(t.received), format_rate(t.accepted), format_rate(t.rejected));
  }
}

void render_running(const StatusReport& r, std::ostream& out) {
  const StatusDoc& d = r.doc;
  out << fmt::format("meterd {} (agent {}) at {}: {}, up {}\n", terminal_safe(d.version, 40),
                     terminal_safe(d.agent_id, 60), r.admin, terminal_safe(d.state, 20),
                     format_duration(d.uptime_seconds));
  out << row("verdict", verdict_line(r.judgement));
  out << row("health", d.healthy ? "healthy" : "UNHEALTHY: " + terminal_safe(d.health_reason,
                                                                            kMaxShown));
  out << row("ready", d.ready ? "yes" : "NO: " + terminal_safe(d.ready_reason, kMaxShown));
  out << row("broker", d.broker_connected ? "connected" : "NOT CONNECTED");
  render_events(r, out);
  out << row("backlog", backlog_text(d.outbox_records, d.outbox_oldest_age_seconds));
  out << row("buffer", buffer_usage(d.buffer_bytes, d.buffer_limit_bytes));
  if (!d.buffer_error.empty()) {
    out << row("buffer error", terminal_safe(d.buffer_error, kMaxShown));
  }
  out << row("dead letters", dead_letters_text(d, r.rates));
  out << row("deliveries", last_delivery_text(d, r.rates, r.now_unix_ms));
  out << row("commits", fmt::format("{}/s, mean {}, {} failed", format_rate(r.rates.commits),
                                    format_latency(r.rates.commit_mean_s), d.commit_failures));
  out << row("last error", d.last_error.empty() ? "none" : terminal_safe(d.last_error, kMaxShown));
}

void render_stopped(const StatusReport& r, std::ostream& out) {
  std::string where = r.admin.empty() ? "" : " at " + r.admin;
  if (r.not_running) {
    out << "meterd is not running: nothing answers" << where << " ("
        << terminal_safe(r.error, kMaxShown) << ")\n";
  } else {
    out << "meterd is not answering" << where << ": " << terminal_safe(r.error, kMaxShown)
        << "\n";
  }
  out << row("verdict", verdict_line(r.judgement));
  if (r.buffer_path.empty()) return;
  if (!r.buffer_read) {
    out << row("buffer", "cannot read " + terminal_safe(r.buffer_path, kMaxShown) + ": " +
                             terminal_safe(r.buffer_error, kMaxShown));
    return;
  }
  const BufferGaugeValues& b = r.buffer;
  double oldest_age = 0;
  if (b.outbox_oldest_window_end_ms > 0) {
    oldest_age = static_cast<double>(r.now_unix_ms - b.outbox_oldest_window_end_ms) / 1000.0;
  }
  out << "the backlog it would send, read from " << terminal_safe(r.buffer_path, kMaxShown)
      << ":\n";
  out << row("  backlog", backlog_text(b.outbox_records, oldest_age));
  out << row("  open", fmt::format("{} open window rows (sent once they close)", b.open_windows));
  out << row("  buffer", buffer_usage(b.used_bytes, r.buffer_limit_bytes));
  out << row("  dead", fmt::format("{} dead letters kept", b.dead_letters));
}

// -1 means "none" in the rates; JSON says null.
void number_or_null(JsonOut& j, std::string_view key, double value) {
  if (value < 0) j.null(key);
  else j.number(key, value);
}

void json_backlog(JsonOut& j, const char* source, int64_t records, double oldest_age,
                  int64_t bytes, int64_t limit, int64_t open_windows) {
  j.open("backlog");
  j.string("source", source);
  j.integer("outbox_records", records);
  j.number("outbox_oldest_age_seconds", oldest_age);
  j.integer("open_windows", open_windows);
  j.integer("buffer_bytes", bytes);
  if (limit > 0) j.integer("buffer_limit_bytes", limit);
  else j.null("buffer_limit_bytes");
  number_or_null(j, "buffer_percent", buffer_percent(bytes, limit));
  j.close();
}

void json_running(JsonOut& j, const StatusReport& r) {
  const StatusDoc& d = r.doc;
  j.open("meterd");
  j.string("version", d.version);
  j.string("agent_id", d.agent_id);
  j.string("state", d.state);
  j.number("uptime_seconds", d.uptime_seconds);
  j.close();
  j.open("health");
  j.boolean("healthy", d.healthy);
  j.string("reason", d.health_reason);
  j.close();
  j.open("ready");
  j.boolean("ready", d.ready);
  j.string("reason", d.ready_reason);
  j.close();
  j.boolean("broker_connected", d.broker_connected);
  j.number("interval_seconds", r.rates.seconds);
  j.open("rates");
  for (const TransportRates& t : r.rates.transports) {
    j.open(t.name);
    j.number("received", t.received);
    j.number("accepted", t.accepted);
    j.number("rejected", t.rejected);
    j.close();
  }
  j.close();
  json_backlog(j, "meterd", d.outbox_records, d.outbox_oldest_age_seconds, d.buffer_bytes,
               d.buffer_limit_bytes, d.open_windows);
}

void json_running_tail(JsonOut& j, const StatusReport& r) {
  const StatusDoc& d = r.doc;
  j.open("dead_letters");
  j.integer("kept", d.dead_letters);
  j.integer("evicted", d.dead_letters_evicted);
  j.integer("added", r.rates.dead_letters_added);
  j.open("by_reason");
  for (const auto& [reason, count] : d.dead_letters_by_reason) j.integer(reason, count);
  j.close();
  j.close();
  j.open("uplink");
  j.number("delivered_per_second", r.rates.delivered);
  number_or_null(j, "delivery_latency_mean_seconds", r.rates.delivery_latency_mean_s);
  j.integer("delivery_errors", d.delivery_errors);
  if (d.last_delivery_unix_ms > 0) j.integer("last_delivery_unix_ms", d.last_delivery_unix_ms);
  else j.null("last_delivery_unix_ms");
  j.string("last_error", d.last_error);
  j.close();
  j.open("commit");
  j.number("per_second", r.rates.commits);
  number_or_null(j, "mean_seconds", r.rates.commit_mean_s);
  j.integer("failures", d.commit_failures);
  j.close();
}

void json_stopped(JsonOut& j, const StatusReport& r) {
  for (const char* key : {"meterd", "health", "ready", "broker_connected", "interval_seconds",
                          "rates"}) {
    j.null(key);
  }
  if (!r.buffer_read) {
    j.null("backlog");
    j.null("dead_letters");
  } else {
    const BufferGaugeValues& b = r.buffer;
    double oldest_age = 0;
    if (b.outbox_oldest_window_end_ms > 0) {
      oldest_age = static_cast<double>(r.now_unix_ms - b.outbox_oldest_window_end_ms) / 1000.0;
    }
    json_backlog(j, "buffer", b.outbox_records, oldest_age, b.used_bytes, r.buffer_limit_bytes,
                 b.open_windows);
    j.open("dead_letters");
    j.integer("kept", b.dead_letters);
    j.close();
  }
  j.null("uplink");
  j.null("commit");
  j.string("buffer_path", r.buffer_path);
  j.string("buffer_error", r.buffer_error);
}

}  // namespace

void render_status_text(const StatusReport& report, std::ostream& out) {
  if (report.reachable) render_running(report, out);
  else render_stopped(report, out);
}

std::string render_status_json(const StatusReport& report) {
  JsonOut j;
  j.open("");
  j.string("verdict", verdict_name(report.judgement.verdict));
  j.integer("exit_code", report.judgement.exit_code());
  j.open_array("problems");
  for (const std::string& problem : report.judgement.problems) j.string("", problem);
  j.close_array();
  j.string("admin", report.admin);
  j.string("reach", report.reachable     ? "answering"
                    : report.not_running ? "not_running"
                                         : "not_answering");
  j.string("error", report.error);
  if (report.reachable) {
    json_running(j, report);
    json_running_tail(j, report);
  } else {
    json_stopped(j, report);
  }
  j.close();
  return j.take() + "\n";
}

}  // namespace meterd

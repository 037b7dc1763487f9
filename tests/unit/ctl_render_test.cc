// meterctl status's output: strings from meterd made safe for a terminal (escape sequences in a
// broker's error must not reach the terminal), the text for a running and a stopped meterd, and
// --json as one object that parses and carries hostile strings exactly.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <sstream>

// meterctl's sources are not in meterd_core; each is compiled into the unit tests by exactly
// one test file.
#include "agent/ctl/status_render.h"
#include "agent/ctl/terminal_text.h"
#include "tests/unit/ctl_test_fixture.h"

using namespace meterd;
using meterd::ctl_test::Fixture;

namespace {

// Valid UTF-8 (a JSON document carries nothing else), every kind of control in it.
const std::string kHostile =
    "boom\x1b]0;owned\x07\x1b[2J\r\nnext\x7f\xc2\x9b" "31m\xe2\x80\xae" "txt";

// True if `text` holds a byte a terminal would act on (newline allowed where `newlines`).
bool has_control(const std::string& text, bool newlines) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' && newlines) continue;
    if (c < 0x20 || c == 0x7f) return true;
    bool c1 = c == 0xc2 && i + 1 < text.size() &&
              (static_cast<unsigned char>(text[i + 1]) & 0xe0) == 0x80;
    if (c1) {
      return true;  // a C1 control (U+0080..U+009F)
    }
    if (text.compare(i, 3, "\xe2\x80\xae") == 0) return true;
  }
  return false;
}

StatusReport running_report(const Fixture& f) {
  StatusReport r;
  r.admin = "127.0.0.1:7703";
  r.reachable = true;
  r.now_unix_ms = 1'700'000'005'000;
  r.doc = f.doc();
  Fixture before = f;
  before.uptime -= 1;
  before.udp_received -= 120;
  before.commits -= 5;
  before.commit_seconds -= 0.01;
  r.rates = compute_rates(before.doc(), r.doc, 1);
  r.judgement = judge_status(before.doc(), r.doc);
  return r;
}

}  // namespace

TEST_CASE("terminal_safe: controls become visible escapes, text stays", "[ctl]") {
  CHECK(terminal_safe("plain text, é, 日本") == "plain text, é, 日本");
  CHECK(terminal_safe("a\nb\tc\r") == "a\\nb\\tc\\r");
  CHECK(terminal_safe("\x1b[31mred") == "\\x1b[31mred");
  CHECK(terminal_safe("bell\x07") == "bell\\x07");
  CHECK(terminal_safe("del\x7f") == "del\\x7f");
  CHECK(terminal_safe("c1 \xc2\x9b" "2J") == "c1 \\u009b2J");
  CHECK(terminal_safe("bidi \xe2\x80\xae") == "bidi \\u202e");
  CHECK(terminal_safe("bad \xff\xc3") == "bad \\xff\\xc3");
  CHECK(terminal_safe("overlong \xc0\xaf") == "overlong \\xc0\\xaf");
  CHECK(terminal_safe("back\\slash") == "back\\\\slash");
  CHECK(terminal_safe("abcdef", 3) == "abc…");
  CHECK(terminal_safe("日本語です", 2) == "日本…");
  CHECK_FALSE(has_control(terminal_safe(kHostile), false));
  CHECK_FALSE(has_control(terminal_safe(kHostile + "\xff\xc2"), false));
}

TEST_CASE("status text: a running meterd's rows, hostile strings escaped", "[ctl]") {
  Fixture f;
  f.last_error = kHostile;
  f.agent_id = "agent\x1b[H";
  f.broker_connected = false;
  f.ready = false;
  f.ready_reason = "draining\x1b[?1049l";
  std::ostringstream out;
  render_status_text(running_report(f), out);
  std::string text = out.str();
  INFO(text);
  CHECK_FALSE(has_control(text, /*newlines=*/true));
  CHECK(text.find("agent\\x1b[H") != std::string::npos);
  CHECK(text.find("boom\\x1b]0;owned\\x07") != std::string::npos);
  CHECK(text.find("degraded (exit 1): broker unreachable, not ready: draining") !=
        std::string::npos);
  CHECK(text.find("NOT CONNECTED") != std::string::npos);
  CHECK(text.find("  udp ") != std::string::npos);
  CHECK(text.find("120.0") != std::string::npos);  // udp received per second
  CHECK(text.find("12 outbox records, the oldest waiting 30 s") != std::string::npos);
  CHECK(text.find("100.0 MiB of 1.0 GiB (9.8 %)") != std::string::npos);
  CHECK(text.find(": invalid 6, value 4") != std::string::npos);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    // Rows fit 80 columns but for the strings meterd chose (agent id, errors).
    if (line.find('\\') == std::string::npos) CHECK(line.size() <= 80);
  }
}

TEST_CASE("status text: meterd not running, with the backlog from the buffer", "[ctl]") {
  StatusReport r;
  r.admin = "127.0.0.1:7703";
  r.not_running = true;
  r.error = "connection refused";
  r.judgement.add(Verdict::kDown, "meterd is not running");
  r.now_unix_ms = 1'700'000'100'000;
  r.buffer_path = "/var/lib/meterd/buffer.db";
  r.buffer_read = true;
  r.buffer.outbox_records = 42;
  r.buffer.outbox_oldest_window_end_ms = 1'700'000'000'000;
  r.buffer.used_bytes = 3 << 20;
  r.buffer.dead_letters = 5;
  r.buffer_limit_bytes = 1 << 30;
  std::ostringstream out;
  render_status_text(r, out);
  std::string text = out.str();
  INFO(text);
  CHECK(text.rfind("meterd is not running: nothing answers at 127.0.0.1:7703 (connection refused)",
                   0) == 0);
  CHECK(text.find("down (exit 2)") != std::string::npos);
  CHECK(text.find("42 outbox records, the oldest waiting 1m 40s") != std::string::npos);
  CHECK(text.find("3.0 MiB of 1.0 GiB (0.3 %)") != std::string::npos);
  CHECK(text.find("5 dead letters kept") != std::string::npos);

  r.buffer_read = false;
  r.buffer_error = "unable to open database file";
  std::ostringstream unreadable;
  render_status_text(r, unreadable);
  CHECK(unreadable.str().find("cannot read /var/lib/meterd/buffer.db: unable to open") !=
        std::string::npos);
}

TEST_CASE("status --json: one object that parses, strings exact", "[ctl]") {
  Fixture f;
  f.last_error = kHostile;
  f.dead_letters = 12;
  StatusReport r = running_report(f);
  std::string json = render_status_json(r);
  CHECK(json.back() == '\n');
  CHECK(json.find('\n') == json.size() - 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["verdict"]) == "healthy");
  CHECK(int64_t(doc["exit_code"]) == 0);
  CHECK(std::string_view(doc["reach"]) == "answering");
  CHECK(double(doc.at_pointer("/rates/udp/received")) == Approx(120));
  CHECK(int64_t(doc.at_pointer("/backlog/outbox_records")) == 12);
  CHECK(std::string_view(doc.at_pointer("/backlog/source")) == "meterd");
  CHECK(double(doc.at_pointer("/backlog/buffer_percent")) == Approx(100.0 / 1024 * 100));
  CHECK(int64_t(doc.at_pointer("/dead_letters/by_reason/invalid")) == 6);
  CHECK(std::string_view(doc.at_pointer("/uplink/last_error")) == f.last_error);
  CHECK(double(doc.at_pointer("/commit/mean_seconds")) == Approx(0.002));
  CHECK(doc.at_pointer("/uplink/delivery_latency_mean_seconds").is_null());  // none in between
}

TEST_CASE("status --json: meterd down, the backlog read from the buffer", "[ctl]") {
  StatusReport r;
  r.admin = "127.0.0.1:7703";
  r.not_running = true;
  r.error = "connection refused";
  r.judgement.add(Verdict::kDown, "meterd is not running");
  r.buffer_path = "/b.db";
  r.buffer_read = true;
  r.buffer.outbox_records = 3;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string json = render_status_json(r);
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["verdict"]) == "down");
  CHECK(int64_t(doc["exit_code"]) == 2);
  CHECK(std::string_view(doc["reach"]) == "not_running");
  CHECK(doc["meterd"].is_null());
  CHECK(std::string_view(doc.at_pointer("/backlog/source")) == "buffer");
  CHECK(int64_t(doc.at_pointer("/backlog/outbox_records")) == 3);
  CHECK(doc.at_pointer("/backlog/buffer_percent").is_null());
  CHECK(std::string_view(doc.at_pointer("/problems/0")) == "meterd is not running");
}

TEST_CASE("units: bytes, durations, rates, latencies", "[ctl]") {
  CHECK(format_bytes(512) == "512 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(int64_t{3} << 30) == "3.0 GiB");
  CHECK(format_duration(4.25) == "4.2 s");
  CHECK(format_duration(185) == "3m 05s");
  CHECK(format_duration(7620) == "2h 07m");
  CHECK(format_duration(-1) == "0.0 s");
  CHECK(format_rate(0.01) == "0");
  CHECK(format_rate(12.34) == "12.3");
  CHECK(format_rate(-2) == "-2.0");
  CHECK(format_rate(1234) == "1.2k");
  CHECK(format_latency(-1) == "-");
  CHECK(format_latency(0.0042) == "4.2 ms");
  CHECK(format_unix_ms(1'700'000'000'000) == "2023-11-14T22:13:20Z");
}

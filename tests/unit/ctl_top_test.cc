// meterctl top's screen from fixture readings: the transports' rows and their rates, the
// backlog's trend, fitting 80×24, hostile strings escaped, and the "not reachable" frame.
#include <catch2/catch.hpp>

// meterctl's sources are not in meterd_core; each is compiled into the unit tests by exactly
// one test file.
#include "agent/ctl/top_screen.h"
#include "tests/unit/ctl_test_fixture.h"

using namespace meterd;
using meterd::ctl_test::Fixture;

namespace {

TopFrame frame_of(const Fixture& before, const Fixture& after) {
  TopFrame frame;
  frame.admin = "127.0.0.1:7703";
  frame.now_unix_ms = 1'700'000'002'000;
  frame.reachable = true;
  frame.doc = after.doc();
  frame.has_rates = true;
  frame.rates = compute_rates(before.doc(), frame.doc, after.uptime - before.uptime);
  return frame;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

size_t characters(const std::string& line) {
  size_t n = 0;
  for (unsigned char c : line) n += (c & 0xC0) != 0x80;
  return n;
}

const std::string* line_starting(const std::vector<std::string>& lines, std::string_view start) {
  for (const std::string& line : lines) {
    if (line.rfind(start, 0) == 0) return &line;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("top: transport rows with their rates, totals, backlog trend", "[ctl]") {
  Fixture before, after = before;
  after.uptime += 1;
  after.udp_received += 250;
  after.udp_accepted += 240;
  after.udp_invalid += 10;
  after.http_received += 5;
  after.http_accepted += 5;
  after.outbox_records += 3;
  after.commits += 5;
  after.commit_seconds += 0.01;
  std::vector<std::string> lines = top_screen(frame_of(before, after), 80, 24);
  INFO(joined(lines));
  const std::string* udp = line_starting(lines, "udp ");
  REQUIRE(udp != nullptr);
  CHECK(udp->find("250.0") != std::string::npos);
  CHECK(udp->find("240.0") != std::string::npos);
  CHECK(udp->find("10.0") != std::string::npos);
  for (const char* name : {"unix_datagram ", "unix_stream ", "http "}) {
    CHECK(line_starting(lines, name) != nullptr);
  }
  const std::string* total = line_starting(lines, "total ");
  REQUIRE(total != nullptr);
  CHECK(total->find("255.0") != std::string::npos);
  const std::string* outbox = line_starting(lines, "  outbox records");
  REQUIRE(outbox != nullptr);
  CHECK(outbox->find("15") != std::string::npos);
  CHECK(outbox->find("↑ +3.0/s") != std::string::npos);
  const std::string* commits = line_starting(lines, "  commits/s");
  REQUIRE(commits != nullptr);
  CHECK(commits->find("mean commit 2.0 ms") != std::string::npos);
}

TEST_CASE("top: fits 80x24 and escapes what meterd reports", "[ctl]") {
  Fixture before;
  before.last_error = "kafka: \x1b[2J\x1b[Hgone\n" + std::string(300, 'x');
  before.agent_id = std::string(100, 'a') + "\x1b]0;title\x07";
  before.healthy = false;
  before.health_reason = "uplink loop stalled\r\x1b[K";
  before.ready = false;
  before.ready_reason = "buffer full";
  Fixture after = before;
  after.uptime += 1;
  std::vector<std::string> lines = top_screen(frame_of(before, after), 80, 24);
  INFO(joined(lines));
  CHECK(lines.size() <= 24);
  for (const std::string& line : lines) {
    CHECK(characters(line) <= 80);
    for (unsigned char c : line) CHECK((c >= 0x20 && c != 0x7f));
  }
  CHECK(joined(lines).find("UNHEALTHY") != std::string::npos);
  CHECK(joined(lines).find("kafka: \\x1b[2J") != std::string::npos);
  CHECK(top_screen(frame_of(before, after), 80, 10).size() == 10);
}

TEST_CASE("top: the first reading shows no rates yet", "[ctl]") {
  TopFrame frame = frame_of(Fixture(), Fixture());
  frame.has_rates = false;
  std::vector<std::string> lines = top_screen(frame, 80, 24);
  const std::string* udp = line_starting(lines, "udp ");
  REQUIRE(udp != nullptr);
  CHECK(udp->find(" -") != std::string::npos);
  CHECK(udp->find("0.0") == std::string::npos);
}

TEST_CASE("top: meterd gone is said, with when it last answered", "[ctl]") {
  TopFrame frame;
  frame.admin = "127.0.0.1:7703";
  frame.now_unix_ms = 1'700'000'010'000;
  frame.error = "connection refused";
  frame.last_answer_unix_ms = 1'700'000'005'000;
  std::string text = joined(top_screen(frame, 80, 24));
  INFO(text);
  CHECK(text.find("meterd not reachable at 127.0.0.1:7703: connection refused") !=
        std::string::npos);
  CHECK(text.find("last answer 5.0 s ago") != std::string::npos);
}

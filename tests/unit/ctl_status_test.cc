// meterctl status's reading of /status and its verdict: the document parsed from fixture JSON
// (and refused when it is not meterd's), the rates between two readings, and each exit code
// from the condition that causes it.
#include <catch2/catch.hpp>

// meterctl's sources are not in meterd_core; each is compiled into the unit tests by exactly
// one test file.
#include "agent/ctl/status_doc.h"
#include "agent/ctl/status_verdict.h"
#include "tests/unit/ctl_test_fixture.h"

using namespace meterd;
using meterd::ctl_test::Fixture;

namespace {

Judgement judge(const Fixture& before, const Fixture& after) {
  return judge_status(before.doc(), after.doc());
}

Fixture later(Fixture f, double seconds = 1) {
  f.uptime += seconds;
  return f;
}

}  // namespace

TEST_CASE("status document: every field meterctl shows is read", "[ctl]") {
  Fixture f;
  f.last_error = "broker down";
  StatusDoc d = f.doc();
  CHECK(d.version == "0.1.0");
  CHECK(d.agent_id == "web-1");
  CHECK(d.state == "running");
  CHECK(d.uptime_seconds == 100);
  CHECK(d.healthy);
  CHECK(d.broker_connected);
  CHECK(d.ready);
  REQUIRE(d.transports.size() == 4);
  CHECK(d.transports[0].name == "udp");
  CHECK(d.transports[0].received == 1000);
  CHECK(d.transports[0].accepted == 990);
  CHECK(d.transports[0].rejected == 10);  // invalid + value
  CHECK(d.transports[3].name == "http");
  CHECK(d.transports[3].received == 50);
  CHECK(d.transports[3].rejected == 0);
  CHECK(d.buffer_bytes == 100 << 20);
  CHECK(d.buffer_limit_bytes == 1 << 30);
  CHECK(d.outbox_records == 12);
  CHECK(d.outbox_oldest_age_seconds == 30);
  CHECK(d.open_windows == 7);
  CHECK(d.dead_letters == 10);
  REQUIRE(d.dead_letters_by_reason.size() == 2);
  CHECK(d.dead_letters_by_reason[1] == std::pair<std::string, int64_t>{"value", 4});
  CHECK(d.commit_count == 500);
  CHECK(d.records_delivered == 400);
  CHECK(d.delivery_errors == 1);
  CHECK(d.last_delivery_unix_ms == 1'700'000'000'000);
  CHECK(d.last_error == "broker down");
}

TEST_CASE("status document: what is not meterd's /status is refused with the reason", "[ctl]") {
  StatusDoc d;
  Status s = parse_status("HTTP/1.1 200 OK\r\n\r\nhello", &d);
  CHECK_FALSE(s);
  CHECK(s.message().rfind("not JSON", 0) == 0);
  s = parse_status("[1, 2]", &d);
  CHECK_FALSE(s);
  CHECK(s.message().find("not a JSON object") != std::string::npos);
  s = parse_status(R"({"status": "ok"})", &d);
  CHECK_FALSE(s);
  CHECK(s.message().find("not meterd's: /version is missing") != std::string::npos);
  std::string json = Fixture().json();
  json.replace(json.find("\"healthy\": true"), 15, "\"healthy\": \"yes\"");
  s = parse_status(json, &d);
  CHECK_FALSE(s);
  CHECK(s.message().find("/health/healthy has the wrong type") != std::string::npos);
  CHECK_FALSE(parse_status("", &d));
  CHECK_FALSE(parse_status(std::string("{\"version\": \"\xff\"}"), &d));
}

TEST_CASE("rates: counter differences over the seconds between the readings", "[ctl]") {
  Fixture before, after = later(before, 2);
  after.udp_received += 300;
  after.udp_accepted += 290;
  after.udp_invalid += 10;
  after.http_received += 4;
  after.commits += 10;
  after.commit_seconds += 0.05;  // 5 ms a commit
  after.delivered += 20;
  after.latency_count += 20;
  after.latency_seconds += 0.2;  // 10 ms a delivery
  after.outbox_records -= 4;
  after.oldest_age += 2;
  StatusRates r = compute_rates(before.doc(), after.doc(), 2);
  REQUIRE(r.transports.size() == 4);
  CHECK(r.transports[0].received == Approx(150));
  CHECK(r.transports[0].accepted == Approx(145));
  CHECK(r.transports[0].rejected == Approx(5));
  CHECK(r.transports[3].received == Approx(2));
  CHECK(r.commits == Approx(5));
  CHECK(r.commit_mean_s == Approx(0.005));
  CHECK(r.delivered == Approx(10));
  CHECK(r.delivery_latency_mean_s == Approx(0.01));
  CHECK(r.outbox_records == Approx(-2));
  CHECK(r.outbox_oldest_age == Approx(1));
}

TEST_CASE("rates: nothing new gives zeros and no means; a restart gives no rates", "[ctl]") {
  Fixture before;
  StatusRates idle = compute_rates(before.doc(), later(before).doc(), 1);
  CHECK(idle.transports[0].received == 0);
  CHECK(idle.commit_mean_s < 0);
  CHECK(idle.delivery_latency_mean_s < 0);
  Fixture restarted;
  restarted.uptime = 1;
  restarted.udp_received = 5;
  restarted.dead_letters = 0;
  StatusRates r = compute_rates(before.doc(), restarted.doc(), 1);
  CHECK(r.transports[0].received == 5);  // counted from zero: meterd started in between
  CHECK(r.dead_letters_added == 0);
  CHECK(compute_rates(before.doc(), later(before).doc(), 0).transports[0].received == 0);
  // An outbox that was empty has no age trend, however old its first record's window is.
  Fixture empty;
  empty.outbox_records = 0;
  empty.oldest_age = 0;
  Fixture first = later(empty);
  first.outbox_records = 1;
  first.oldest_age = 70;
  StatusRates filling = compute_rates(empty.doc(), first.doc(), 1);
  CHECK(filling.outbox_records == Approx(1));
  CHECK(filling.outbox_oldest_age == 0);
}

TEST_CASE("verdict 0: healthy, connected, ready, buffer at 80 %, no new dead letters", "[ctl]") {
  Fixture f;
  f.size_bytes = f.limit_bytes / 10 * 8;  // 80 % exactly is not over 80 %
  Judgement j = judge(f, later(f));
  CHECK(j.exit_code() == 0);
  CHECK(j.problems.empty());
  CHECK(std::string(verdict_name(j.verdict)) == "healthy");
}

TEST_CASE("verdict 1: the broker unreachable", "[ctl]") {
  Fixture f;
  f.broker_connected = false;
  Judgement j = judge(f, later(f));
  CHECK(j.exit_code() == 1);
  CHECK(j.problems == std::vector<std::string>{"broker unreachable"});
}

TEST_CASE("verdict 1: the buffer over 80 % of its limit", "[ctl]") {
  Fixture f;
  f.size_bytes = f.limit_bytes / 100 * 81 + 1000;
  Judgement j = judge(f, later(f));
  CHECK(j.exit_code() == 1);
  REQUIRE(j.problems.size() == 1);
  CHECK(j.problems[0] == "buffer 81 % full");
  f.limit_bytes = 0;  // no limit known: no percentage to judge
  CHECK(judge(f, later(f)).exit_code() == 0);
}

TEST_CASE("verdict 1: dead letters added between the readings, kept or evicted", "[ctl]") {
  Fixture before, after = later(before);
  after.dead_letters += 2;
  Judgement j = judge(before, after);
  CHECK(j.exit_code() == 1);
  CHECK(j.problems == std::vector<std::string>{"2 new dead letters"});
  // At the limit the kept count stays put while the oldest are evicted: still rising.
  after = later(before);
  after.dead_letters_evicted += 3;
  CHECK(judge(before, after).exit_code() == 1);
  // Many dead letters, none new: not a reason to page anyone.
  before.dead_letters = 5000;
  CHECK(judge(before, later(before)).exit_code() == 0);
}

TEST_CASE("verdict 1: not ready", "[ctl]") {
  Fixture f;
  f.ready = false;
  f.ready_reason = "buffer full";
  Judgement j = judge(f, later(f));
  CHECK(j.exit_code() == 1);
  CHECK(j.problems == std::vector<std::string>{"not ready: buffer full"});
}

TEST_CASE("verdict 2: unhealthy wins over every degraded condition", "[ctl]") {
  Fixture f;
  f.healthy = false;
  f.health_reason = "store loop stalled for 12.0 s";
  f.broker_connected = false;
  f.ready = false;
  Judgement j = judge(f, later(f));
  CHECK(j.exit_code() == 2);
  CHECK(std::string(verdict_name(j.verdict)) == "down");
  CHECK(j.problems.front() == "unhealthy: store loop stalled for 12.0 s");
  CHECK(j.problems.size() == 3);
}

// The ingest thread's counters by transport and reason, and the reason code every dead letter
// carries: the labels the operator's metrics and the dead-letter topic are read by.
#include <catch2/catch.hpp>

#include <string>

#include "agent/ingest/ingest.h"

using namespace meterd;

namespace {

constexpr int64_t kNow = 1672531320000;  // 2023-01-01T00:02:00Z

Config sum_meter_config() {
  Config config;
  MeterConfig meter;
  meter.slug = "tokens";
  meter.event_type = "prompt";
  meter.aggregation = Aggregation::kSum;
  meter.value_property.emplace();
  std::string why;
  REQUIRE(JsonPath::compile("$.tokens", &*meter.value_property, &why));
  meter.cardinality_limit = 1;
  config.meters.push_back(meter);
  return config;
}

std::string event(const std::string& subject, const std::string& time, const std::string& tokens,
                  const std::string& type = "prompt") {
  return R"({"specversion":"1.0","id":"1","source":"s","type":")" + type + R"(","subject":")" +
         subject + R"(","time":")" + time + R"(","data":{"tokens":)" + tokens + "}}";
}

size_t at(Transport t) { return static_cast<size_t>(t); }
size_t at(RejectReason r) { return static_cast<size_t>(r); }

}  // namespace

TEST_CASE("transport names map to their transport") {
  CHECK(transport_of("udp") == Transport::kUdp);
  CHECK(transport_of("unix_datagram") == Transport::kUnixDatagram);
  CHECK(transport_of("unix_stream") == Transport::kUnixStream);
  CHECK(transport_of("http") == Transport::kHttp);
  for (size_t i = 0; i < kTransports; ++i) {
    CHECK(static_cast<size_t>(transport_of(kTransportNames[i])) == i);
  }
}

TEST_CASE("every refusal is counted under its transport and reason, with that code") {
  Config config = sum_meter_config();
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);
  auto feed = [&](const std::string& bytes, const char* listener) {
    ingest.accept(Payload{bytes, false, listener, kNow, false}, nullptr);
  };
  feed(event("a", "2023-01-01T00:01:00Z", "5"), "udp");                   // accepted
  feed(event("a", "2023-01-01T00:01:00Z", "5", "other"), "udp");          // unmatched: accepted
  feed("{not json", "udp");                                                // invalid
  feed(event("a", "2023-01-01T00:01:00Z", "\"x\""), "unix_datagram");      // value
  feed(event("a", "2022-01-01T00:01:00Z", "5"), "unix_datagram");          // late
  feed(event("a", "2024-01-01T00:01:00Z", "5"), "http");                   // future
  feed(event("b", "2023-01-01T00:01:00Z", "5"), "http");                   // cardinality
  feed("\x81\xa1x\xc1", "unix_stream");                                    // invalid msgpack
  ingest.reject_payload(Payload{"xx", false, "unix_stream", kNow}, "line too long");  // oversized

  const IngestCounters& counts = ingest.counters();
  const auto& udp = counts.transports[at(Transport::kUdp)];
  const auto& datagram = counts.transports[at(Transport::kUnixDatagram)];
  const auto& stream = counts.transports[at(Transport::kUnixStream)];
  const auto& http = counts.transports[at(Transport::kHttp)];
  CHECK(udp.received == 3);
  CHECK(udp.rejected[at(RejectReason::kInvalid)] == 1);
  CHECK(datagram.received == 2);
  CHECK(datagram.rejected[at(RejectReason::kValue)] == 1);
  CHECK(datagram.rejected[at(RejectReason::kLate)] == 1);
  CHECK(http.received == 2);
  CHECK(http.rejected[at(RejectReason::kFuture)] == 1);
  CHECK(http.rejected[at(RejectReason::kCardinality)] == 1);
  CHECK(stream.received == 2);
  CHECK(stream.rejected[at(RejectReason::kInvalid)] == 1);
  CHECK(stream.rejected[at(RejectReason::kOversized)] == 1);

  CommitBatch batch = ingest.take_batch();
  CHECK(batch.accepted_by_source[at(Transport::kUdp)] == 2);
  CHECK(batch.accepted_by_source[at(Transport::kHttp)] == 0);
  std::vector<std::string> codes;
  for (const DeadLetter& letter : batch.dead_letters) codes.push_back(letter.reason_code);
  CHECK(codes == std::vector<std::string>{"invalid", "value", "late", "future", "cardinality",
                                          "invalid", "oversized"});
}

TEST_CASE("a batch merged after a failed commit keeps the accepted counts of both") {
  CommitBatch first, second;
  first.accepted_by_source = {1, 2, 3, 4};
  second.accepted_by_source = {10, 20, 30, 40};
  first.merge_from(std::move(second));
  CHECK(first.accepted_by_source == std::array<int64_t, 4>{11, 22, 33, 44});
}

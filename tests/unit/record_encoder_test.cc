// The Kafka record: valid, flat JSON with every field of uplink/FORMAT.md.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "uplink/record_encoder.h"

using namespace meterd;

TEST_CASE("record encodes every field and parses back") {
  OutboxRow row;
  row.idempotency_key = "00112233445566778899aabbccddeeff";
  row.series = {"tokens_total", "customer \"1\"\n", {{"model", "gpt-4"}, {"region", "eu"}}};
  row.window_start = 1672531260;
  row.window_size_s = 60;
  row.revision = 0;
  row.values.add(1, 1672531300000);
  row.values.add(40, 1672531319123);
  row.values.add(0.5, 1672531310000);
  std::string json;
  encode_record("edge-1", row, &json);

  simdjson::dom::parser parser;
  simdjson::dom::element record;
  REQUIRE(parser.parse(json).get(record) == simdjson::SUCCESS);
  CHECK(std::string_view(record["idempotency_key"]) == row.idempotency_key);
  CHECK(std::string_view(record["agent_id"]) == "edge-1");
  CHECK(std::string_view(record["subject"]) == "customer \"1\"\n");
  CHECK(std::string_view(record["group_keys"].at(1)) == "region");
  CHECK(std::string_view(record["group_values"].at(0)) == "gpt-4");
  CHECK(int64_t(record["window_start"]) == 1672531260);
  CHECK(int64_t(record["window_size_s"]) == 60);
  CHECK(int64_t(record["event_count"]) == 3);
  CHECK(double(record["value_sum"]) == 41.5);
  CHECK(double(record["value_min"]) == 0.5);
  CHECK(double(record["value_max"]) == 40);
  CHECK(double(record["latest_value"]) == 40);
  CHECK(int64_t(record["latest_time_ms"]) == 1672531319123);
  CHECK(simdjson::dom::array(record["distinct_values"]).size() == 0);
  CHECK(json.find('\n') == std::string::npos);  // one record per line for JSONEachRow
}

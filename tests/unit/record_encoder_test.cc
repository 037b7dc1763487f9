// The Kafka record: valid, flat JSON with every field of uplink/FORMAT.md, numbers in their
// shortest exact form, never a non-finite number or a damaged array.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <limits>

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

namespace {

OutboxRow one_value_row(double value) {
  OutboxRow row;
  row.idempotency_key = "00112233445566778899aabbccddeeff";
  row.series = {"tokens_total", "customer-1", {}};
  row.window_start = 1672531260;
  row.window_size_s = 60;
  row.revision = 7;
  row.values.add(value, 1672531300000);
  return row;
}

}  // namespace

TEST_CASE("record carries the meter and the revision, and an integer sum without a fraction") {
  std::string json;
  encode_record("edge-1", one_value_row(119), &json);
  CHECK(json.find("\"meter\":\"tokens_total\"") != std::string::npos);
  CHECK(json.find("\"revision\":7,") != std::string::npos);
  CHECK(json.find("\"value_sum\":119,") != std::string::npos);
  CHECK(json.find("\"group_keys\":[],\"group_values\":[]") != std::string::npos);
}

TEST_CASE("record never carries a non-finite number: it becomes 0, and the JSON stays valid") {
  OutboxRow row = one_value_row(3);
  row.values.value_max = std::numeric_limits<double>::infinity();
  row.values.latest_value = std::numeric_limits<double>::quiet_NaN();
  std::string json;
  encode_record("edge-1", row, &json);
  simdjson::dom::parser parser;
  simdjson::dom::element record;
  REQUIRE(parser.parse(json).get(record) == simdjson::SUCCESS);
  CHECK(double(record["value_max"]) == 0);
  CHECK(double(record["latest_value"]) == 0);
  CHECK(double(record["value_sum"]) == 3);
}

TEST_CASE("record passes distinct values as the store wrote them; a damaged array becomes []") {
  OutboxRow row = one_value_row(1);
  row.distinct_values_json = R"(["a","b\"c"])";
  std::string json;
  encode_record("edge-1", row, &json);
  CHECK(json.find(R"("distinct_values":["a","b\"c"]})") != std::string::npos);

  row.distinct_values_json = R"(["a","b)";  // cut short: not even an array
  encode_record("edge-1", row, &json);
  simdjson::dom::parser parser;
  simdjson::dom::element record;
  REQUIRE(parser.parse(json).get(record) == simdjson::SUCCESS);
  CHECK(simdjson::dom::array(record["distinct_values"]).size() == 0);
}

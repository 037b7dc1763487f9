// parse_cpu: what reading the load generator's events costs with simdjson's DOM against its
// On-Demand front end, alone (no meters, no delta table): each 20-event payload is parsed and
// every envelope string and every data value of every event is read, as meterd's decoder and
// meters read them. Prints CPU time per event and a checksum of what was read (equal for both
// APIs, so neither skips work). Under `valgrind --tool=cachegrind` the instruction counts are
// exact; that is how the README's On-Demand figures were taken.
//
//   parse_cpu --api dom|ondemand [--events 4000000] [--distinct 20000]
#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/bench/cpu_time.h"
#include "tests/bench/event_source.h"

namespace {

// Adds what was read to `sum`: string lengths, and numbers as they are.
uint64_t read_dom(simdjson::dom::parser& parser, const simdjson::padded_string& payload) {
  uint64_t sum = 0;
  simdjson::dom::element root = parser.parse(payload);
  for (simdjson::dom::object event : simdjson::dom::array(root)) {
    for (auto [key, value] : event) {
      if (key == "data") {
        for (auto [name, field] : simdjson::dom::object(value)) {
          if (field.is_uint64()) sum += uint64_t(field);
          else sum += std::string_view(field).size();
        }
      } else {
        sum += std::string_view(value).size();
      }
    }
  }
  return sum;
}

uint64_t read_ondemand(simdjson::ondemand::parser& parser, const simdjson::padded_string& payload) {
  uint64_t sum = 0;
  simdjson::ondemand::document doc = parser.iterate(payload);
  for (simdjson::ondemand::object event : doc.get_array()) {
    for (simdjson::ondemand::field field : event) {
      if (field.key() == "data") {
        for (simdjson::ondemand::field member : field.value().get_object()) {
          simdjson::ondemand::value value = member.value();
          if (value.type() == simdjson::ondemand::json_type::number) {
            sum += uint64_t(value.get_uint64());
          } else {
            sum += std::string_view(value.get_string()).size();
          }
        }
      } else {
        sum += std::string_view(field.value().get_string()).size();
      }
    }
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parse_cpu: simdjson DOM against On-Demand on the bench's events"};
  std::string api = "dom";
  int64_t events = 4'000'000, per_payload = 20, distinct = 20'000;
  app.add_option("--api", api, "dom or ondemand")->check(CLI::IsMember({"dom", "ondemand"}));
  app.add_option("--events", events, "events to read");
  app.add_option("--distinct", distinct, "distinct events generated, then read round and round")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  meterd::bench::EventSource source(meterd::bench::EventShape{}, meterd::bench::Format::kJson);
  std::vector<simdjson::padded_string> payloads;
  for (int64_t first = 0; first < distinct; first += per_payload) {
    std::string payload;
    source.append_payload(first, per_payload, 1700000000000, &payload);
    payloads.emplace_back(payload);
  }
  simdjson::dom::parser dom;
  simdjson::ondemand::parser ondemand;
  uint64_t sum = 0;
  size_t next = 0;
  int64_t read = 0;  // whole payloads: may pass `events` by less than one
  double cpu0 = meterd::bench::cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  while (read < events) {
    const simdjson::padded_string& payload = payloads[next];
    next = (next + 1) % payloads.size();
    sum += api == "dom" ? read_dom(dom, payload) : read_ondemand(ondemand, payload);
    read += std::min<int64_t>(per_payload, distinct);
  }
  double cpu = meterd::bench::cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  std::printf("{\"api\":\"%s\",\"events\":%lld,\"checksum\":%llu,\"ns_per_event\":%.1f}\n",
              api.c_str(), static_cast<long long>(read), static_cast<unsigned long long>(sum),
              1e9 * cpu / static_cast<double>(read));
  return 0;
}

// ingest_cpu: the ingest thread's own cost, without sockets, threads or a store: the load
// generator's payloads (20 events each, by default) fed straight to Ingest::accept, the batch
// taken every `--batch` events as the commit loop would, CPU time per event printed as one JSON
// line. It isolates decoding, meter matching and accumulation from the kernel's receive path,
// which moves far more from run to run on a shared machine; run.py puts it beside the capacity
// rows, and it is what a profile of the hot path should be taken of.
//
//   ingest_cpu --events 4000000 --per-payload 20
#include <CLI/CLI.hpp>
#include <simdjson.h>

#include <chrono>
#include <cstdio>

#include "agent/ingest/ingest.h"
#include "tests/bench/cpu_time.h"
#include "tests/bench/event_source.h"

using namespace meterd;

namespace {


// The bench's meters (tests/harness/meterd.py DEFAULT_METERS): a SUM grouped by model and
// region, and a COUNT, both of "prompt" events.
std::vector<MeterConfig> bench_meters() {
  std::string why;
  MeterConfig tokens;
  tokens.slug = "tokens_total";
  tokens.event_type = "prompt";
  tokens.aggregation = Aggregation::kSum;
  tokens.value_property.emplace();
  JsonPath::compile("$.tokens", &*tokens.value_property, &why);
  for (const char* group : {"model", "region"}) {
    JsonPath path;
    JsonPath::compile(std::string("$.") + group, &path, &why);
    tokens.group_by.emplace_back(group, path);
  }
  MeterConfig prompts;
  prompts.slug = "prompts";
  prompts.event_type = "prompt";
  prompts.aggregation = Aggregation::kCount;
  return {tokens, prompts};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ingest_cpu: the ingest thread's CPU time per event, without sockets"};
  int64_t events = 4'000'000, per_payload = 20, batch = 400'000, distinct = 100'000;
  app.add_option("--events", events, "events to feed");
  app.add_option("--per-payload", per_payload, "events per payload")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "events between two take_batch() calls (a commit)");
  app.add_option("--distinct", distinct, "distinct events generated, then fed round and round");
  CLI11_PARSE(app, argc, argv);

  Config config;
  config.meters = bench_meters();
  MeterSet meters(config.meters);
  Ingest ingest(config, meters);

  // Payloads as datagrams arrive: each followed by simdjson's padding.
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  bench::EventSource source(bench::EventShape{}, bench::Format::kJson);
  std::vector<std::string> payloads;
  for (int64_t first = 0; first < distinct; first += per_payload) {
    std::string payload;
    source.append_payload(first, per_payload, now_ms, &payload);
    payloads.push_back(payload + std::string(simdjson::SIMDJSON_PADDING, ' '));
  }

  int64_t fed = 0, since_batch = 0;
  size_t next = 0;
  double cpu0 = bench::cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  while (fed < events) {
    const std::string& padded = payloads[next];
    next = (next + 1) % payloads.size();
    std::string_view bytes(padded.data(), padded.size() - simdjson::SIMDJSON_PADDING);
    ingest.accept(Payload{bytes, true, "bench", now_ms, false}, nullptr);
    fed += per_payload;
    since_batch += per_payload;
    if (since_batch >= batch) {
      CommitBatch taken = ingest.take_batch();  // dropped here, as the store would after merging
      since_batch = 0;
    }
  }
  double cpu = bench::cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  int64_t accepted = ingest.counters().events_accepted;
  std::printf("{\"events\":%lld,\"accepted\":%lld,\"cpu_seconds\":%.4f,\"ns_per_event\":%.1f}\n",
              static_cast<long long>(fed), static_cast<long long>(accepted), cpu,
              1e9 * cpu / static_cast<double>(fed));
  return accepted == fed ? 0 : 1;
}

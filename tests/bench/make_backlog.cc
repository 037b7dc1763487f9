// make_backlog: writes an outbox backlog straight into a buffer file through the Store API, as
// a broker outage would leave it: `--series` series, each with one closed partial per minute,
// `--rows` rows in all. The bench runner then starts meterd on the file to time the restart
// and the drain, without waiting for hours of real windows.
//
//   make_backlog --buffer /tmp/b/buffer.db --rows 1000000 [--series 10000] [--agent-id bench]
#include <CLI/CLI.hpp>

#include <cstdio>

#include "buffer/base/clock.h"
#include "buffer/identity/series_identity.h"
#include "buffer/store/store.h"

using namespace meterd;

int main(int argc, char** argv) {
  CLI::App app{"make_backlog: fill a buffer's outbox"};
  std::string path, agent_id = "bench-agent";
  int64_t rows = 1'000'000, series = 10'000;
  app.add_option("--buffer", path)->required();
  app.add_option("--rows", rows);
  app.add_option("--series", series)->check(CLI::PositiveNumber);
  app.add_option("--agent-id", agent_id);
  CLI11_PARSE(app, argc, argv);

  int64_t now_ms = wall_clock_ms();
  StoreOptions options;
  options.path = path;
  options.agent_id = agent_id;
  std::unique_ptr<Store> store;
  if (Status s = Store::open(options, now_ms, &store); !s) {
    std::fprintf(stderr, "make_backlog: %s\n", s.message().c_str());
    return 1;
  }
  std::vector<std::string> identities;
  for (int64_t i = 0; i < std::min(series, rows); ++i) {
    identities.push_back(encode_series(
        {"tokens_total", "customer-" + std::to_string(i), {{"model", "model-" + std::to_string(i % 4)}}}));
  }
  // Minutes before the run's own windows, oldest first, one commit per minute of backlog.
  int64_t minutes = (rows + static_cast<int64_t>(identities.size()) - 1) / identities.size();
  int64_t first_window = (now_ms / 60'000 - minutes - 10) * 60;
  int64_t written = 0;
  for (int64_t minute = 0; minute < minutes; ++minute) {
    CommitBatch batch;
    for (size_t i = 0; i < identities.size() && written < rows; ++i, ++written) {
      int64_t window_start = first_window + minute * 60;
      batch.deltas.add(identities[i], window_start, double(1 + written % 5000), window_start * 1000);
    }
    CommitResult result;
    Status s = store->commit(batch, now_ms, &result);
    // The windows are long past: close them into the outbox now rather than after the grace.
    if (s) s = store->close_all_windows(now_ms, &result);
    if (!s) {
      std::fprintf(stderr, "make_backlog: %s\n", s.message().c_str());
      return 1;
    }
  }
  std::printf("{\"rows\":%lld,\"outbox_rows\":%lld}\n", static_cast<long long>(written),
              static_cast<long long>(store->outbox_rows()));
  return 0;
}

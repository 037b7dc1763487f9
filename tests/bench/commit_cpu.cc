// commit_cpu: the store thread's cost of one commit interval with many active series, alone:
// a fresh buffer, the bench's series (1,000 subjects × 4 models × 2 regions for the SUM meter,
// 1,000 for the COUNT), each with new events in every interval, committed `--commits` times.
// Prints one JSON line: CPU milliseconds per commit and microseconds per series merged. With
// every series active, each commit rewrites every series' open window row: this is what the
// commit interval costs meterd under steady datagram load, whatever the event rate.
//
//   commit_cpu --buffer-dir /tmp/commit-bench --commits 40
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "buffer/identity/series_identity.h"
#include "buffer/store/store.h"
#include "tests/bench/cpu_time.h"

using namespace meterd;

int main(int argc, char** argv) {
  CLI::App app{"commit_cpu: the store's CPU time per commit with every series active"};
  std::string dir;
  int commits = 40, subjects = 1000;
  app.add_option("--buffer-dir", dir, "an empty folder for the buffer (removed afterwards)")
      ->required();
  app.add_option("--commits", commits, "commits measured (after 5 that warm up)");
  app.add_option("--subjects", subjects, "subjects (series: 9 per subject)");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::create_directories(dir);
  StoreOptions options;
  options.path = (std::filesystem::path(dir) / "buffer.db").string();
  options.window_size_s = 60;
  options.grace_ms = 1000;
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::unique_ptr<Store> store;
  if (Status s = Store::open(options, now_ms, &store); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  std::vector<std::string> series;
  for (int s = 0; s < subjects; ++s) {
    std::string subject = "customer-" + std::to_string(s);
    for (int m = 0; m < 4; ++m) {
      for (const char* region : {"eu", "us"}) {
        std::string model = "model-" + std::to_string(m);
        series.push_back(
            encode_series({"tokens_total", subject, {{"model", model}, {"region", region}}}));
      }
    }
    series.push_back(encode_series({"prompts", subject, {}}));
  }
  // One window that stays open for the whole run (it closes a minute after it starts).
  int64_t window_start = now_ms / 1000 / 60 * 60;
  double measured = 0;
  for (int c = 0; c < commits + 5; ++c) {
    CommitBatch batch;
    for (const std::string& identity : series) batch.deltas.add(identity, window_start, 5, now_ms);
    CommitResult result;
    double cpu0 = bench::cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    if (Status s = store->commit(batch, now_ms, &result); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      return 1;
    }
    if (c >= 5) measured += bench::cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  }
  store.reset();
  std::filesystem::remove_all(dir);
  std::printf("{\"series\":%zu,\"commits\":%d,\"ms_per_commit\":%.2f,\"us_per_series\":%.2f}\n",
              series.size(), commits, 1e3 * measured / commits,
              1e6 * measured / commits / static_cast<double>(series.size()));
  return 0;
}

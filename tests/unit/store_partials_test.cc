// windows.partials_every: open windows go out early as partials, and no two partials of one
// window ever share a revision (and so a key), however events and restarts interleave.
#include <catch2/catch.hpp>

#include <set>

#include "buffer/identity/series_identity.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::TempBuffer;

namespace {

const std::string kSeries = encode_series({"tokens", "c1", {}});
constexpr int64_t kWindow = 1672531260;   // 00:01:00 – 00:02:00, closes on time at 00:02:10
constexpr int64_t kStart = 1672531262000;  // 00:01:02

CommitBatch one_event(double value, int64_t time_ms) {
  CommitBatch batch;
  batch.deltas.add(kSeries, kWindow, value, time_ms);
  return batch;
}

StoreOptions with_partials(const TempBuffer& temp) {
  StoreOptions options = temp.options();
  options.partials_every_ms = 10'000;
  return options;
}

}  // namespace

TEST_CASE("partials go out every partials_every, each with its own revision, totals exact") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(with_partials(temp), kStart, &store));
  CommitResult result;
  // One event a second through the window and its grace, committed each second.
  for (int64_t t = kStart; t < kStart + 70'000; t += 1000) {
    REQUIRE(store->commit(t < kStart + 58'000 ? one_event(1, t) : CommitBatch{}, t, &result));
  }
  auto rows = read_outbox(with_partials(temp));
  REQUIRE(rows.size() >= 5);  // about one per 10 s instead of one at the end
  std::set<int64_t> revisions;
  std::set<std::string> keys;
  int64_t events = 0;
  for (const auto& row : rows) {
    revisions.insert(row.revision);
    keys.insert(row.idempotency_key);
    events += row.values.event_count;
  }
  CHECK(revisions.size() == rows.size());
  CHECK(keys.size() == rows.size());
  CHECK(events == 58);
  CHECK(rows[0].revision == 0);
  CHECK(store->open_window_rows() == 0);
}

TEST_CASE("a partial opened after an early close waits for the window's on-time close") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kStart, &store));  // no partials: only shutdown closes
  CommitResult result;
  REQUIRE(store->commit(one_event(1, kStart), kStart, &result));
  REQUIRE(store->close_all_windows(kStart + 1000, &result));  // e.g. a restart
  REQUIRE(store->commit(one_event(2, kStart + 2000), kStart + 2000, &result));
  // 10 s (one grace) later the new partial is still open: its window is not over yet.
  REQUIRE(store->commit({}, kStart + 15'000, &result));
  CHECK(store->open_window_rows() == 1);
  REQUIRE(store->commit({}, (kWindow + 70) * 1000, &result));
  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].revision == 0);
  CHECK(rows[1].revision > 0);
  CHECK(rows[0].values.value_sum + rows[1].values.value_sum == 3);
}

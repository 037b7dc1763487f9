// The store's side of "exact under every retry, restart and reset": each case here once lost or
// double-counted usage (issue 14's list): old events resent, dedup keys crowding out usage, a
// lost buffer or a new window size reusing keys, coarsening after a restart, non-finite sums and
// a wall clock stepped forward and back.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "buffer/identity/idempotency_key.h"
#include "buffer/identity/series_identity.h"
#include "buffer/store/store.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::TempBuffer;

namespace {

const std::string kSeries = encode_series({"tokens", "c1", {{"model", "gpt-4"}}});
constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kNow = 1672531290000;  // 2023-01-01T00:01:30Z
constexpr int64_t kWindow = 1672531260;  // its minute

CommitBatch keyed(const std::string& id, int64_t event_time_ms, double value = 1) {
  CommitBatch batch;
  batch.keyed.begin_event("app", id, event_time_ms);
  int64_t window = event_time_ms / 60'000 * 60;
  batch.keyed.add(kSeries, window, value, event_time_ms);
  batch.keyed.end_event();
  return batch;
}

// `count` acknowledged events with ids prefix0.., all at `time_ms`.
CommitBatch keyed_many(const std::string& prefix, int count, int64_t time_ms) {
  CommitBatch batch;
  for (int i = 0; i < count; ++i) {
    batch.keyed.begin_event("app", prefix + std::to_string(i), time_ms);
    batch.keyed.add(kSeries, time_ms / 60'000 * 60, 1, time_ms);
    batch.keyed.end_event();
  }
  return batch;
}

CommitBatch deltas(int64_t window_start, double value, int64_t time_ms) {
  CommitBatch batch;
  batch.deltas.add(kSeries, window_start, value, time_ms);
  return batch;
}

// A store on a new buffer, keys remembered for a day.
StoreOptions day_of_dedup(const TempBuffer& temp, std::unique_ptr<Store>* store) {
  StoreOptions options = temp.options();
  options.dedup_window_ms = kDay;
  REQUIRE(Store::open(options, kNow, store));
  return options;
}

}  // namespace

TEST_CASE("exactness: an event older than dedup_window is still recognised when resent") {
  // Item 1: its key (time-first) used to expire in the very commit that wrote it.
  TempBuffer temp;
  std::unique_ptr<Store> store;
  StoreOptions options = day_of_dedup(temp, &store);
  CommitResult result;
  const int64_t two_days_old = kNow - 2 * kDay;
  REQUIRE(store->commit(keyed("old", two_days_old), kNow, &result));
  CHECK(result.duplicates_dropped == 0);
  REQUIRE(store->commit(keyed("old", two_days_old), kNow + 60'000, &result));
  CHECK(result.duplicates_dropped == 1);
  // Remembered for dedup_window after its arrival, across a reopen too.
  store.reset();
  REQUIRE(Store::open(options, kNow + kDay - kHour, &store));
  REQUIRE(store->commit(keyed("old", two_days_old), kNow + kDay - kHour, &result));
  CHECK(result.duplicates_dropped == 1);
  // And forgotten after it, so the table does not grow for ever.
  REQUIRE(store->commit({}, kNow + kDay + 1000, &result));
  CHECK(store->dedup_keys() == 0);
}

TEST_CASE("exactness: a current event's key lasts dedup_window after arrival, then expires") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  day_of_dedup(temp, &store);
  CommitResult result;
  REQUIRE(store->commit(keyed("a", kNow - 5000), kNow, &result));
  REQUIRE(store->commit(keyed("a", kNow - 5000), kNow + kDay - 1000, &result));
  CHECK(result.duplicates_dropped == 1);
  REQUIRE(store->commit({}, kNow + kDay + Store::kDedupLateAfter_ms, &result));
  CHECK(store->dedup_keys() == 0);
}

TEST_CASE("exactness: dedup keys have their own bound and never refuse usage") {
  // Item 7: at buffer.max_size keys used to crowd out usage until every event was refused.
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.max_size_bytes = 1 << 20;
  options.dedup_max_bytes = 2000 * Store::kDedupBytesPerKey;  // 2,000 keys
  options.dedup_window_ms = kDay;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kNow, &store));
  CommitResult result;
  int64_t shed = 0;
  // 200,000 keys (~10 MB unbounded, ten times max_size), every one of them young.
  for (int round = 0; round < 40; ++round) {
    INFO("round " << round);
    REQUIRE(store->commit(keyed_many("r" + std::to_string(round) + "-", 5000, kNow + round),
                          kNow + round, &result));
    CHECK_FALSE(result.refused);
    shed += result.dedup_keys_shed;
    CHECK(store->dedup_keys() <= 2000);
  }
  CHECK(shed == 40 * 5000 - 2000);
  CHECK(result.dedup_horizon_ms >= 0);
  CHECK(result.dedup_horizon_ms < 1000);
  // The newest keys are the ones kept: 2,000 of the last round, none of the rounds before.
  REQUIRE(store->commit(keyed_many("r38-", 5000, kNow + 38), kNow + 100, &result));
  CHECK(result.duplicates_dropped == 0);
  REQUIRE(store->commit(keyed_many("r39-", 5000, kNow + 39), kNow + 100, &result));
  CHECK(result.duplicates_dropped == 2000);
  CHECK_FALSE(result.refused);
}

TEST_CASE("exactness: dedup keys take the bytes the bound assumes") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kNow, &store));
  CommitResult result;
  REQUIRE(store->commit(keyed_many("warm-", 1000, kNow), kNow, &result));
  const int64_t before = store->used_bytes();
  constexpr int kKeys = 100'000;
  for (int round = 0; round < kKeys / 10'000; ++round) {
    REQUIRE(store->commit(keyed_many("k" + std::to_string(round) + "-", 10'000, kNow + round),
                          kNow + round, &result));
  }
  const double per_key = static_cast<double>(store->used_bytes() - before) / kKeys;
  INFO("bytes per dedup key: " << per_key);
  CHECK(per_key <= Store::kDedupBytesPerKey);
  CHECK(per_key >= 0.7 * Store::kDedupBytesPerKey);
}

TEST_CASE("exactness: a new buffer under the same agent id never reuses a key") {
  // Item 3: revision 0 of a window got the same key with other contents after the buffer was lost.
  TempBuffer temp;
  StoreOptions options = temp.options();
  std::set<std::string> keys;
  for (int incarnation = 0; incarnation < 2; ++incarnation) {
    std::filesystem::remove(options.path);
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(options, kNow, &store));
    CommitResult result;
    REQUIRE(store->commit(deltas(kWindow, incarnation == 0 ? 100 : 7, kNow), kNow, &result));
    REQUIRE(store->close_all_windows(kNow, &result));
    auto rows = read_outbox(options);
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].revision == 0);
    keys.insert(rows[0].idempotency_key);
  }
  CHECK(keys.size() == 2);
}

TEST_CASE("exactness: a change of window size never gives two windows one key") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  const int64_t future_hour = (kNow / kHour + 2) * 3600;  // a future-dated window's start
  std::set<std::string> keys;
  for (int64_t size_s : {int64_t{60}, int64_t{3600}}) {
    options.window_size_s = size_s;
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(options, kNow, &store));
    CommitResult result;
    REQUIRE(store->commit(deltas(future_hour, 5, future_hour * 1000), kNow, &result));
    REQUIRE(store->close_all_windows(kNow, &result));
  }
  for (const auto& row : read_outbox(options)) keys.insert(row.idempotency_key);
  CHECK(keys.size() == 2);
}

TEST_CASE("exactness: coarsening after a reopen leaves every row an earlier process had") {
  // Item 4: the uplink's claim lived in memory only, so after a crash with confirmations in
  // flight, rows already in Kafka were merged under new keys and counted twice.
  TempBuffer temp;
  StoreOptions options = temp.options();
  const int64_t hour = 1672531200;
  const int64_t now = (hour + 3 * 3600) * 1000;
  options.coarsen_at_rows = 0;
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(options, now, &store));
    CommitBatch batch;
    for (int minute = 0; minute < 30; ++minute) {
      batch.deltas.add(kSeries, hour + minute * 60, 1, (hour + minute * 60) * 1000);
    }
    CommitResult result;
    REQUIRE(store->commit(batch, now, &result));
    REQUIRE(store->commit({}, now + 20'000, &result));
    REQUIRE(store->outbox_rows() == 30);
  }
  const auto before = read_outbox(options);
  options.coarsen_at_rows = 10;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, now + 30'000, &store));
  CommitBatch later;
  for (int minute = 30; minute < 60; ++minute) {
    later.deltas.add(kSeries, hour + minute * 60, 2, (hour + minute * 60) * 1000);
  }
  CommitResult result;
  REQUIRE(store->commit(later, now + 30'000, &result));
  REQUIRE(store->commit({}, now + 60'000, &result));
  CHECK(result.rows_coarsened == 30);  // only the rows this process made
  auto after = read_outbox(options);
  REQUIRE(after.size() == 31);
  for (size_t i = 0; i < before.size(); ++i) {
    CHECK(after[i].seq == before[i].seq);
    CHECK(after[i].idempotency_key == before[i].idempotency_key);
  }
  CHECK(after[30].window_size_s == 3600);
  CHECK(after[30].values.value_sum == 60);
}

TEST_CASE("exactness: a merge that would overflow a window's sum sends the row and opens another") {
  // Item 5: 1e308 + 1e308 made +inf, which no record carries; -inf + inf a NULL that failed the
  // whole commit.
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kNow, &store));
  CommitResult result;
  REQUIRE(store->commit(deltas(kWindow, 1e308, kNow), kNow, &result));
  REQUIRE(store->commit(deltas(kWindow, 1e308, kNow + 1), kNow + 1, &result));
  CHECK(result.windows_split == 1);
  REQUIRE(store->commit(deltas(kWindow, -1.5e308, kNow + 2), kNow + 2, &result));
  REQUIRE(store->close_all_windows(kNow + 3, &result));
  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 2);
  std::set<std::string> keys;
  for (const auto& row : rows) {
    CHECK(std::isfinite(row.values.value_sum));
    keys.insert(row.idempotency_key);
  }
  CHECK(keys.size() == 2);
  CHECK(rows[0].values.value_sum == 1e308);
  CHECK(rows[1].values.value_sum == 1e308 - 1.5e308);
  CHECK(rows[0].values.event_count + rows[1].values.event_count == 3);
}

TEST_CASE("exactness: a non-finite delta is a dead letter, and the rest of the commit lands") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kNow, &store));
  CommitBatch batch = deltas(kWindow, 1e308, kNow);
  batch.merge_from(deltas(kWindow, 1e308, kNow));  // as batches kept over failed commits merge
  const std::string other = encode_series({"tokens", "c2", {{"model", "gpt-4"}}});
  batch.deltas.add(other, kWindow, 5, kNow);
  CommitResult result;
  REQUIRE(store->commit(batch, kNow, &result));
  CHECK(result.deltas_refused == 1);
  REQUIRE(store->close_all_windows(kNow, &result));
  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].series.subject == "c2");
  CHECK(rows[0].values.value_sum == 5);
}

TEST_CASE("exactness: after the wall clock steps forward and back, windows close on time and "
          "resends are still dropped") {
  // Item 6: the store's clock was a high-water mark, so after a step back windows stayed open
  // until real time caught up, and keys aged by the stepped clock.
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.grace_ms = 10'000;
  options.dedup_window_ms = kDay;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kNow, &store));
  CommitResult result;
  int64_t steady = 5'000'000;  // the monotonic clock: it only moves forward, at real speed
  REQUIRE(store->commit(keyed("before-step", kNow), kNow, steady, &result));
  // The wall clock jumps two days ahead for a while; events still carry real times.
  const int64_t step = 2 * kDay;
  steady += 1000;
  REQUIRE(store->commit(keyed("during-step", kNow + 1000), kNow + 1000 + step, steady, &result));
  steady += 1000;
  REQUIRE(store->commit(keyed("before-step", kNow), kNow + 2000 + step, steady, &result));
  CHECK(result.duplicates_dropped == 1);  // the key did not age two days
  // Back to the right time. An event for the current window...
  steady += 1000;
  const int64_t real = kNow + 3000;
  REQUIRE(store->commit(keyed("after-step", real), real, steady, &result));
  // ...closes at its end + grace by the corrected clock (plus a commit interval).
  const int64_t window_end_ms = (real / 60'000 + 1) * 60'000;
  int64_t closed_at = 0;
  for (int64_t now = real + 200; now <= window_end_ms + 20'000 && closed_at == 0; now += 200) {
    REQUIRE(store->commit({}, now, steady + (now - real), &result));
    if (store->open_window_rows() == 0) closed_at = now;
  }
  INFO("closed at " << closed_at - window_end_ms << " ms after the window's end");
  CHECK(closed_at != 0);
  CHECK(closed_at <= window_end_ms + options.grace_ms + 200);
  // Every resend is still recognised.
  for (const char* id : {"before-step", "during-step", "after-step"}) {
    int64_t time = std::string(id) == "during-step" ? kNow + 1000
                   : std::string(id) == "after-step" ? real
                                                     : kNow;
    REQUIRE(store->commit(keyed(id, time), real + 30'000, steady + 30'000, &result));
    CHECK(result.duplicates_dropped == 1);
  }
  // And the totals: three events in all, each counted once over the records.
  REQUIRE(store->close_all_windows(real + 30'000, &result));
  int64_t events = 0;
  std::set<std::string> keys;
  for (const auto& row : read_outbox(options)) {
    events += row.values.event_count;
    keys.insert(row.idempotency_key);
  }
  CHECK(events == 3);
  CHECK(keys.size() == read_outbox(options).size());
}

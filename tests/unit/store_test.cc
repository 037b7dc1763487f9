// The SQLite store: windows close into the outbox with keys, late events become revisions,
// delivered rows are deleted, and everything survives a reopen.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>

#include "buffer/identity/idempotency_key.h"
#include "buffer/store/outbox_reader.h"
#include "buffer/identity/series_identity.h"
#include "buffer/store/store.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::TempBuffer;

namespace {

const std::string kSeries = encode_series({"tokens", "c1", {{"model", "gpt-4"}}});
constexpr int64_t kWindow = 1672531260;        // 00:01:00
constexpr int64_t kOnTime = 1672531290000;     // 00:01:30, inside the window
constexpr int64_t kClosed = 1672531330000;     // 00:02:10, window end + grace

CommitBatch batch_of(int64_t window_start, std::vector<double> values, int64_t time_ms) {
  CommitBatch batch;
  for (double v : values) batch.deltas.add(kSeries, window_start, v, time_ms);
  return batch;
}

std::vector<OutboxRow> outbox(const StoreOptions& options) {
  return meterd::testing::read_outbox(options);
}

}  // namespace

TEST_CASE("a window stays open until end + grace, then moves to the outbox with its key") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow, {1, 2, 3}, kOnTime), kOnTime, &result));
  REQUIRE(store->commit(batch_of(kWindow, {4}, kOnTime + 1), kClosed - 1, &result));
  CHECK(result.windows_closed == 0);
  CHECK(outbox(temp.options()).empty());
  REQUIRE(store->commit({}, kClosed, &result));
  CHECK(result.windows_closed == 1);

  auto rows = outbox(temp.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].values.event_count == 4);
  CHECK(rows[0].values.value_sum == 10);
  CHECK(rows[0].values.value_min == 1);
  CHECK(rows[0].values.value_max == 4);
  CHECK(rows[0].values.latest_value == 4);
  CHECK(rows[0].revision == 0);
  CHECK(rows[0].series.subject == "c1");
  CHECK(rows[0].idempotency_key == idempotency_key(store->buffer_id(), kSeries, kWindow, 60, 0));
}

TEST_CASE("commits into one open window merge min, max and latest as one batch would") {
  // The second and third commits update the row the first created (Store::merge_window).
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow, {5}, kOnTime), kOnTime, &result));
  // A tie on time: the later arrival becomes latest. Then an older event: it does not.
  REQUIRE(store->commit(batch_of(kWindow, {-2}, kOnTime), kOnTime, &result));
  REQUIRE(store->commit(batch_of(kWindow, {9}, kOnTime - 1), kOnTime, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  auto rows = outbox(temp.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].values.event_count == 3);
  CHECK(rows[0].values.value_sum == 12);
  CHECK(rows[0].values.value_min == -2);
  CHECK(rows[0].values.value_max == 9);
  CHECK(rows[0].values.latest_value == -2);
  CHECK(rows[0].values.latest_time_ms == kOnTime);
}

TEST_CASE("late events open a new revision with its own key") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow, {1}, kOnTime), kOnTime, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  REQUIRE(store->commit(batch_of(kWindow, {5, 6}, kOnTime), kClosed + 1000, &result));
  REQUIRE(store->commit(batch_of(kWindow, {7}, kOnTime), kClosed + 2000, &result));
  CHECK(outbox(temp.options()).size() == 1);
  REQUIRE(store->commit({}, kClosed + 1000 + 10'000, &result));  // the late partial's grace
  auto rows = outbox(temp.options());
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].revision > 0);
  CHECK(rows[1].values.event_count == 3);
  CHECK(rows[1].values.value_sum == 18);
  CHECK(rows[1].idempotency_key != rows[0].idempotency_key);
}

TEST_CASE("delivered rows are deleted at the next commit, not before") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow, {1}, kOnTime), kOnTime, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  auto rows = outbox(temp.options());
  REQUIRE(rows.size() == 1);
  store->mark_delivered({rows[0].seq});
  CHECK(store->outbox_rows() == 1);
  REQUIRE(store->commit({}, kClosed, &result));
  CHECK(result.rows_deleted == 1);
  CHECK(store->outbox_rows() == 0);
}

TEST_CASE("a reopened buffer keeps windows, outbox, agent id and keys") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.agent_id = "";  // default: created once, then kept
  std::string agent_id, buffer_id;
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(options, kOnTime, &store));
    agent_id = store->agent_id();
    buffer_id = store->buffer_id();
    CHECK_FALSE(agent_id.empty());
    CommitResult result;
    REQUIRE(store->commit(batch_of(kWindow, {2}, kOnTime), kOnTime, &result));
    REQUIRE(store->commit(batch_of(kWindow + 60, {3}, kOnTime), kOnTime, &result));
    REQUIRE(store->commit({}, kClosed, &result));  // closes the first window only
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kClosed, &store));
  CHECK(store->agent_id() == agent_id);
  CHECK(store->buffer_id() == buffer_id);
  CHECK(store->outbox_rows() == 1);
  CHECK(store->open_window_rows() == 1);
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow + 60, {4}, kClosed), kClosed, &result));
  REQUIRE(store->commit({}, kClosed + 60'000, &result));
  auto rows = outbox(options);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1].values.value_sum == 7);
  CHECK(rows[1].revision == 0);
  CHECK(rows[1].idempotency_key == idempotency_key(buffer_id, kSeries, kWindow + 60, 60, 0));
}

TEST_CASE("windows closed early at shutdown reopen as revisions, never as revision 0") {
  TempBuffer temp;
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(temp.options(), kOnTime, &store));
    CommitResult result;
    REQUIRE(store->commit(batch_of(kWindow, {1}, kOnTime), kOnTime, &result));
    REQUIRE(store->close_all_windows(kOnTime, &result));
    CHECK(result.windows_closed == 1);
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime + 1000, &store));
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow, {2}, kOnTime + 1000), kOnTime + 1000, &result));
  REQUIRE(store->close_all_windows(kOnTime + 2000, &result));
  auto rows = outbox(temp.options());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].revision == 0);
  CHECK(rows[1].revision != 0);
  CHECK(rows[0].idempotency_key != rows[1].idempotency_key);
}

TEST_CASE("dead letters are kept up to the limit, oldest evicted and counted") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.dead_letter_limit = 3;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kOnTime, &store));
  CommitBatch batch;
  for (int i = 0; i < 5; ++i) batch.dead_letters.push_back({kOnTime, "udp", "bad", "raw"});
  CommitResult result;
  REQUIRE(store->commit(batch, kOnTime, &result));
  CHECK(result.dead_letters_evicted == 2);
}

TEST_CASE("acknowledged events are admitted once per (source, id), across commits and reopens") {
  TempBuffer temp;
  auto keyed_batch = [](std::vector<std::string> ids) {
    CommitBatch batch;
    for (const auto& id : ids) {
      batch.keyed.begin_event("app", id, kOnTime);
      batch.keyed.add(kSeries, kWindow, 10, kOnTime);
      batch.keyed.end_event();
    }
    return batch;
  };
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(temp.options(), kOnTime, &store));
    CommitResult result;
    REQUIRE(store->commit(keyed_batch({"a", "b", "a"}), kOnTime, &result));
    CHECK(result.duplicates_dropped == 1);
    REQUIRE(store->commit(keyed_batch({"b", "c"}), kOnTime, &result));
    CHECK(result.duplicates_dropped == 1);
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(keyed_batch({"c", "d"}), kOnTime, &result));
  CHECK(result.duplicates_dropped == 1);
  REQUIRE(store->commit({}, kClosed, &result));
  auto rows = outbox(temp.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].values.event_count == 4);  // a, b, c, d
  CHECK(rows[0].values.value_sum == 40);
}

namespace {

// A batch of one acknowledged event of `value` in kWindow, keyed by ("app", id, time_ms).
CommitBatch one_keyed_event(const char* id, int64_t time_ms, double value = 1) {
  CommitBatch batch;
  batch.keyed.begin_event("app", id, time_ms);
  batch.keyed.add(kSeries, kWindow, value, kOnTime);
  batch.keyed.end_event();
  return batch;
}

}  // namespace

TEST_CASE("an event is the same event when its source, id and time agree") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(one_keyed_event("a", kOnTime), kOnTime, &result));
  REQUIRE(store->commit(one_keyed_event("a", kOnTime), kOnTime, &result));
  CHECK(result.duplicates_dropped == 1);  // a resend
  REQUIRE(store->commit(one_keyed_event("a", kOnTime + 1), kOnTime, &result));
  CHECK(result.duplicates_dropped == 0);  // the id reused for another moment of usage
  REQUIRE(store->commit(one_keyed_event("a", 0), kOnTime, &result));
  REQUIRE(store->commit(one_keyed_event("a", 0), kOnTime, &result));
  CHECK(result.duplicates_dropped == 1);  // no time: (source, id) alone
}

TEST_CASE("dedup keys sort by event time, so a commit's inserts land side by side") {
  DedupKey early = dedup_key("app", "zzz", 1000), late = dedup_key("app", "aaa", 2000);
  CHECK(early < late);
  CHECK(dedup_key("app", "x", -5) < dedup_key("app", "x", 0));
  CHECK(dedup_key("app", "x", 0) != dedup_key("app", "y", 0));
  for (int64_t time : {int64_t{-5}, int64_t{0}, int64_t{1}, kOnTime, int64_t{1} << 62}) {
    DedupKey key = dedup_key("app", "x", time);
    CHECK(dedup_key_time_ms(std::string_view(reinterpret_cast<const char*>(key.data()), 8)) == time);
  }
}

TEST_CASE("keys of events without a time expire by when they were seen, not before") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.dedup_window_ms = 1000;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kOnTime, &store));
  CommitBatch batch = one_keyed_event("timeless", 0);
  CommitResult result;
  REQUIRE(store->commit(batch, kOnTime, &result));
  REQUIRE(store->commit({}, kOnTime + 500, &result));  // expires timed keys older than the window
  REQUIRE(store->commit(batch, kOnTime + 600, &result));
  CHECK(result.duplicates_dropped == 1);
  REQUIRE(store->commit({}, kOnTime + 2000, &result));  // seen 1.4 s ago: expired
  REQUIRE(store->commit(batch, kOnTime + 2100, &result));
  CHECK(result.duplicates_dropped == 0);
}

TEST_CASE("dedup keys expire after the dedup window") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.dedup_window_ms = 1000;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kOnTime, &store));
  CommitBatch batch = one_keyed_event("a", kOnTime);
  CommitResult result;
  REQUIRE(store->commit(batch, kOnTime, &result));
  // A timed key expires once its event time is the window and kDedupLateAfter_ms back (it was
  // seen at most that long after its time).
  const int64_t expired = kOnTime + 1000 + Store::kDedupLateAfter_ms + 1;
  REQUIRE(store->commit(batch, expired - 2, &result));
  CHECK(result.duplicates_dropped == 1);
  REQUIRE(store->commit({}, expired, &result));  // expires "a"
  REQUIRE(store->commit(batch, expired + 1000, &result));
  CHECK(result.duplicates_dropped == 0);
}

TEST_CASE("a large outbox is coarsened into hourly windows; rows the uplink read are left alone") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.coarsen_at_rows = 20;
  std::unique_ptr<Store> store;
  const int64_t hour = 1672531200;  // 2023-01-01T00:00:00Z
  const int64_t now = (hour + 3 * 3600) * 1000;
  REQUIRE(Store::open(options, now, &store));
  CommitBatch batch;
  double sum = 0;
  for (int minute = 0; minute < 120; ++minute) {  // two hours of minute windows
    batch.deltas.add(kSeries, hour + minute * 60, minute, (hour + minute * 60) * 1000);
    sum += minute;
  }
  CommitResult result;
  store->claim_outbox_rows([] { return int64_t{0}; });
  REQUIRE(store->commit(batch, now, &result));
  REQUIRE(store->commit({}, now + 20'000, &result));  // closes all 120 into the outbox
  CHECK(result.windows_closed == 120);
  CHECK(result.rows_coarsened == 120);
  auto rows = outbox(options);
  REQUIRE(rows.size() == 2);
  for (const auto& row : rows) {
    CHECK(row.window_size_s == 3600);
    CHECK(row.values.event_count == 60);
    CHECK(row.revision > 0);
  }
  CHECK(rows[0].values.value_sum + rows[1].values.value_sum == sum);
  CHECK(rows[1].values.latest_value == 119);
  CHECK(rows[0].values.value_min == 0);
  CHECK(rows[0].idempotency_key != rows[1].idempotency_key);

  // Rows the uplink has read (claimed) may be in flight: they are never merged.
  store->claim_outbox_rows([&] { return rows[1].seq; });
  CommitBatch more;
  for (int minute = 0; minute < 30; ++minute) {
    more.deltas.add(kSeries, hour + minute * 60, 1, (hour + minute * 60) * 1000);
  }
  REQUIRE(store->commit(more, now + 30'000, &result));
  REQUIRE(store->commit({}, now + 50'000, &result));
  auto after = outbox(options);
  REQUIRE(after.size() == 3);
  CHECK(after[0].seq == rows[0].seq);
  CHECK(after[1].seq == rows[1].seq);
  CHECK(after[2].window_size_s == 3600);
  CHECK(after[2].values.event_count == 30);
}

TEST_CASE("an idle commit writes nothing, and the next due window still closes on time") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kOnTime, &store));
  CommitResult result;
  REQUIRE(store->commit(batch_of(kWindow, {1, 2}, kOnTime), kOnTime, &result));
  const std::filesystem::path wal = temp.options().path + "-wal";
  const auto wal_bytes = std::filesystem::file_size(wal);
  // Nothing arrived, nothing was delivered, no window is due: no transaction, so the WAL does
  // not grow (it had grown by the meta row's page and an fsync per commit, five times a second).
  for (int64_t now = kOnTime + 200; now < kClosed; now += 200) {
    REQUIRE(store->commit({}, now, &result));
    CHECK(result.windows_closed == 0);
  }
  CHECK(std::filesystem::file_size(wal) == wal_bytes);
  // The first commit at which the window is due closes it, batch or no batch.
  REQUIRE(store->commit({}, kClosed, &result));
  CHECK(result.windows_closed == 1);
  CHECK(outbox(temp.options()).size() == 1);
  CHECK(std::filesystem::file_size(wal) > wal_bytes);
}

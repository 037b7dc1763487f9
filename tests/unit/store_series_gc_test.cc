// Series garbage collection: a series with no open window and no row in the outbox is deleted
// from the buffer (once per series_gc_interval), so a sidecar whose subjects churn keeps a
// buffer and a series cache the size of its active series, not of every series it ever saw.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "buffer/identity/series_identity.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::TempBuffer;

namespace {

constexpr int64_t kWindow = 1672531260;     // 00:01:00
constexpr int64_t kInside = 1672531290000;  // 00:01:30
constexpr int64_t kClosed = 1672531330000;  // 00:02:10: end + 10 s grace
constexpr int64_t kHour = 3600 * 1000;

std::string series_of(const std::string& subject) { return encode_series({"tokens", subject, {}}); }

CommitBatch events(const std::vector<std::string>& subjects, int64_t window, int64_t time_ms) {
  CommitBatch batch;
  for (const auto& subject : subjects) batch.deltas.add(series_of(subject), window, 1, time_ms);
  return batch;
}

int64_t series_rows(const StoreOptions& options) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(options.path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* count = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM series", -1, &count, nullptr);
  REQUIRE(sqlite3_step(count) == SQLITE_ROW);
  int64_t rows = sqlite3_column_int64(count, 0);
  sqlite3_finalize(count);
  sqlite3_close(db);
  return rows;
}

}  // namespace

TEST_CASE("series with no open window and nothing in the outbox are collected") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.series_gc_interval_ms = kHour;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kInside, &store));
  CommitResult result;
  // "sent": delivered and gone; "waiting": in the outbox; "open": an open window later on.
  REQUIRE(store->commit(events({"sent", "waiting"}, kWindow, kInside), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  auto rows = read_outbox(options);
  REQUIRE(rows.size() == 2);
  const OutboxRow& sent = rows[0].series.subject == "sent" ? rows[0] : rows[1];
  store->mark_delivered({sent.seq});
  REQUIRE(store->commit({}, kClosed + 1000, &result));
  CHECK(series_rows(options) == 2);  // within the interval: nothing collected yet

  int64_t later = kInside + kHour;
  int64_t later_window = kWindow + 3600;
  REQUIRE(store->commit(events({"open"}, later_window, later), later, &result));
  CHECK(result.series_collected == 1);
  CHECK(series_rows(options) == 2);  // "waiting" and "open"

  // A collected series comes back as a new row when it is seen again, and its usage is kept:
  // the store's cache of series ids forgot it too.
  REQUIRE(store->commit(events({"sent", "open"}, later_window, later + 1000), later + 1000,
                        &result));
  REQUIRE(store->commit({}, later + 50'000, &result));
  int64_t sent_events = 0, open_events = 0;
  for (const OutboxRow& row : read_outbox(options)) {
    if (row.window_start != later_window) continue;
    if (row.series.subject == "sent") sent_events += row.values.event_count;
    if (row.series.subject == "open") open_events += row.values.event_count;
  }
  CHECK(sent_events == 1);
  CHECK(open_events == 2);
}

TEST_CASE("series collection is off with a zero interval") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.series_gc_interval_ms = 0;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kInside, &store));
  CommitResult result;
  REQUIRE(store->commit(events({"a", "b"}, kWindow, kInside), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  std::vector<int64_t> seqs;
  for (const OutboxRow& row : read_outbox(options)) seqs.push_back(row.seq);
  store->mark_delivered(seqs);
  REQUIRE(store->commit(events({"c"}, kWindow + 7200, kInside + 2 * kHour), kInside + 2 * kHour,
                        &result));
  CHECK(result.series_collected == 0);
  CHECK(series_rows(options) == 3);
}

// The outbox table alone: a row inserted by the store reads back through the uplink's reader
// column for column, deliveries delete exactly the seqs named, and coarsening sees only the rows
// above the claim, grouped by coarse window.
#include <catch2/catch.hpp>

#include "buffer/identity/series_identity.h"
#include "buffer/store/outbox.h"
#include "buffer/store/outbox_reader.h"
#include "buffer/store/series.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::SchemaBuffer;

namespace {

const SeriesParts kParts{"tokens", "c1", {{"model", "gpt-4"}}};

struct Outbox {
  SchemaBuffer buffer;
  SeriesTable series;
  OutboxTable outbox;
  int64_t series_id = 0;
  Outbox() {
    REQUIRE(series.prepare(buffer.get()));
    REQUIRE(series.id_of(encode_series(kParts), &series_id));
    REQUIRE(outbox.open(buffer.get()));
  }
  // Inserts a row of `window_start` holding one event of `value`.
  void insert(int64_t window_start, double value, int64_t size_s = 60) {
    Accumulator values;
    values.add(value, window_start * 1000);
    const std::string key = "key-" + std::to_string(window_start);
    REQUIRE(outbox.insert(NewOutboxRow{key, series_id, window_start, size_s, 0, values, "[]"}));
  }
};

}  // namespace

TEST_CASE("outbox table: a row reads back as the store inserted it") {
  Outbox box;
  Accumulator values;
  values.add(2.5, 61'000);
  values.add(4, 62'000);
  REQUIRE(box.outbox.insert(
      NewOutboxRow{"the-key", box.series_id, 60, 60, 7, values, R"(["a","b"])"}));
  CHECK(box.outbox.rows() == 1);
  CHECK(box.outbox.rows_inserted() == 1);

  std::vector<OutboxRow> rows = read_outbox(box.buffer.options());
  REQUIRE(rows.size() == 1);
  const OutboxRow& row = rows[0];
  CHECK(row.seq == 1);
  CHECK(row.idempotency_key == "the-key");
  CHECK(row.series.meter == kParts.meter);
  CHECK(row.series.subject == kParts.subject);
  CHECK(row.series.groups == kParts.groups);
  CHECK(row.window_start == 60);
  CHECK(row.window_size_s == 60);
  CHECK(row.revision == 7);
  CHECK(row.values.event_count == 2);
  CHECK(row.values.value_sum == 6.5);
  CHECK(row.values.value_min == 2.5);
  CHECK(row.values.value_max == 4);
  CHECK(row.values.latest_value == 4);
  CHECK(row.values.latest_time_ms == 62'000);
  CHECK(row.distinct_values_json == R"(["a","b"])");
}

TEST_CASE("outbox table: deliveries delete exactly the seqs named, in any order") {
  Outbox box;
  for (int64_t start = 60; start <= 300; start += 60) box.insert(start, 1);
  int64_t deleted = 0;
  REQUIRE(box.outbox.delete_delivered({5, 1, 4, 2}, &deleted));
  CHECK(deleted == 4);
  CHECK(box.outbox.rows() == 1);
  std::vector<OutboxRow> rows = read_outbox(box.buffer.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].seq == 3);

  deleted = 0;
  REQUIRE(box.outbox.delete_delivered({3, 99}, &deleted));  // 99 never existed
  CHECK(deleted == 1);
  CHECK(box.outbox.rows() == 0);
  CHECK(box.buffer.query("SELECT count(*) FROM outbox") == 0);
  int64_t highest = 0;
  REQUIRE(box.outbox.highest_seq_ever(&highest));
  CHECK(highest == 5);  // kept after every row is gone
}

TEST_CASE("outbox table: the row count is read at open and follows removals") {
  Outbox box;
  box.insert(60, 1);
  box.insert(120, 1);
  OutboxTable reopened;
  REQUIRE(reopened.open(box.buffer.get()));
  CHECK(reopened.rows() == 2);
  REQUIRE(reopened.remove(1));
  CHECK(reopened.rows() == 1);
  CHECK(box.buffer.query("SELECT count(*) FROM outbox") == 1);
}

TEST_CASE("outbox table: coarsening sees the unclaimed rows of its size or finer, by hour") {
  Outbox box;
  box.insert(3600 + 60, 1);       // seq 1: claimed below
  box.insert(3600 + 120, 2);      // seq 2
  box.insert(7200 + 60, 3);       // seq 3: the next hour
  box.insert(3600 + 180, 4);      // seq 4: the first hour again
  box.insert(0, 5, 7200);         // seq 5: coarser than an hour, left alone
  std::vector<std::pair<int64_t, int64_t>> seen;  // (coarse start, seq)
  REQUIRE(box.outbox.for_each_coarsenable(3600, 1, [&](const CoarsenableRow& row) {
    CHECK(row.series_id == box.series_id);
    CHECK(row.identity == encode_series(kParts));
    CHECK(row.values.event_count == 1);
    seen.emplace_back(row.coarse_start, row.seq);
  }));
  CHECK(seen == std::vector<std::pair<int64_t, int64_t>>{{3600, 2}, {3600, 4}, {7200, 3}});
}

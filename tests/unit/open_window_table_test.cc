// The open windows table alone: a delta adds to a row only while the row's sum stays finite, due
// rows are visited in closing order and removed with their distinct values, distinct values come
// back sorted as JSON, and a clock step back pulls the closing times in.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>

#include "buffer/identity/series_identity.h"
#include "buffer/store/open_windows.h"
#include "buffer/store/series.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::SchemaBuffer;

namespace {

struct Windows {
  SchemaBuffer buffer;
  SeriesTable series;
  OpenWindowTable windows;
  int64_t series_id = 0;
  Windows() {
    REQUIRE(series.prepare(buffer.get()));
    REQUIRE(series.id_of(encode_series({"tokens", "c1", {}}), &series_id));
    REQUIRE(windows.prepare(buffer.get()));
  }
  WindowKey key(int64_t window_start) const { return WindowKey{series_id, window_start, 60}; }
};

Accumulator one_event(double value, int64_t time_ms) {
  Accumulator acc;
  acc.add(value, time_ms);
  return acc;
}

}  // namespace

TEST_CASE("open windows table: a delta adds to an open row only while its sum stays finite") {
  Windows t;
  bool added = true;
  REQUIRE(t.windows.add_to_open(t.key(60), one_event(1, 61'000), &added));
  CHECK_FALSE(added);  // no row yet
  REQUIRE(t.windows.open_or_add(t.key(60), 0, 130'000, one_event(1e308, 61'000)));
  REQUIRE(t.windows.add_to_open(t.key(60), one_event(1e308, 62'000), &added));
  CHECK_FALSE(added);  // the sum would leave the doubles
  REQUIRE(t.windows.add_to_open(t.key(60), one_event(-5, 63'000), &added));
  CHECK(added);

  OpenWindow row;
  bool found = false;
  REQUIRE(t.windows.read(t.key(60), &row, &found));
  REQUIRE(found);
  CHECK(row.revision == 0);
  CHECK(row.values.event_count == 2);
  CHECK(row.values.value_sum == 1e308 - 5);
  CHECK(row.values.value_min == -5);
  CHECK(row.values.latest_value == -5);
  CHECK(row.values.latest_time_ms == 63'000);
  REQUIRE(t.windows.read(t.key(120), &row, &found));
  CHECK_FALSE(found);
}

TEST_CASE("open windows table: due rows go in closing order, with their distinct values") {
  Windows t;
  REQUIRE(t.windows.open_or_add(t.key(60), 0, 100, one_event(1, 61'000)));
  REQUIRE(t.windows.open_or_add(t.key(120), 5, 300, one_event(2, 121'000)));
  REQUIRE(t.windows.open_or_add(t.key(180), 6, 200, one_event(3, 181'000)));
  REQUIRE(t.windows.add_distinct(t.key(180), "b"));
  REQUIRE(t.windows.add_distinct(t.key(180), "a"));
  REQUIRE(t.windows.add_distinct(t.key(180), "b"));
  std::vector<std::string> arrays;
  REQUIRE(t.windows.distinct_arrays(t.key(180), &arrays));
  CHECK(arrays == std::vector<std::string>{R"(["a","b"])"});

  std::vector<int64_t> starts, revisions;
  REQUIRE(t.windows.for_each_due(250, [&](const OpenWindow& row) {
    CHECK(row.identity == encode_series({"tokens", "c1", {}}));
    starts.push_back(row.key.window_start);
    revisions.push_back(row.revision);
    return Status::ok();
  }));
  CHECK(starts == std::vector<int64_t>{60, 180});
  CHECK(revisions == std::vector<int64_t>{0, 6});
  REQUIRE(t.windows.remove_due(250));
  CHECK(t.windows.rows() == 1);
  CHECK(t.buffer.query("SELECT count(*) FROM open_distinct") == 0);
  int64_t next = 0;
  REQUIRE(t.windows.next_close_ms(&next));
  CHECK(next == 300);

  REQUIRE(t.windows.remove(t.key(120)));
  REQUIRE(t.windows.next_close_ms(&next));
  CHECK(next == std::numeric_limits<int64_t>::max());
  REQUIRE(t.windows.distinct_arrays(t.key(180), &arrays));
  CHECK(arrays == std::vector<std::string>{"[]"});
}

TEST_CASE("open windows table: a visit's error stops the walk and is returned") {
  Windows t;
  REQUIRE(t.windows.open_or_add(t.key(60), 0, 100, one_event(1, 61'000)));
  REQUIRE(t.windows.open_or_add(t.key(120), 0, 200, one_event(1, 121'000)));
  int visits = 0;
  Status status = t.windows.for_each_due(1000, [&](const OpenWindow&) {
    ++visits;
    return Status::error("stop");
  });
  CHECK_FALSE(status);
  CHECK(status.message() == "stop");
  CHECK(visits == 1);
}

TEST_CASE("open windows table: after a clock step back no row closes later than one opened now") {
  Windows t;
  const int64_t grace = 10'000;
  REQUIRE(t.windows.open_or_add(t.key(60), 0, 9'000'000, one_event(1, 61'000)));
  REQUIRE(t.windows.open_or_add(t.key(120), 0, 150'000, one_event(1, 121'000)));
  REQUIRE(t.windows.clamp_closes(100'000, grace));
  int64_t next = 0;
  REQUIRE(t.windows.next_close_ms(&next));
  CHECK(next == 120'000 + grace);  // the first row: its window's on-time close
  CHECK(t.buffer.query("SELECT closes_at_ms FROM open_windows WHERE window_start = 120") ==
        150'000);  // already no later than that
}

TEST_CASE("open windows table: the open series are listed with their windows") {
  Windows t;
  REQUIRE(t.windows.open_or_add(t.key(60), 0, 100, one_event(1, 61'000)));
  REQUIRE(t.windows.open_or_add(t.key(120), 0, 200, one_event(1, 121'000)));
  std::vector<int64_t> starts;
  REQUIRE(t.windows.for_each_open_series([&](std::string_view identity, int64_t window_start) {
    CHECK(identity == encode_series({"tokens", "c1", {}}));
    starts.push_back(window_start);
  }));
  std::sort(starts.begin(), starts.end());
  CHECK(starts == std::vector<int64_t>{60, 120});
}

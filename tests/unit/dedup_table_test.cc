// The dedup table alone: a key admits its event once, timed keys expire by event time and
// by-arrival keys by arrival, the bound sheds the oldest keys first, and the key count starts
// from meta or from the table.
#include <catch2/catch.hpp>

#include "buffer/identity/series_identity.h"
#include "buffer/store/dedup.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::SchemaBuffer;

namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int64_t kWindow = 24 * 3600 * 1000LL;
const std::string kSeries = encode_series({"tokens", "c1", {}});

// One acknowledged event of `id` at `event_time_ms` (0: no time), adding 1 to one window.
KeyedEvents one_event(const std::string& id, int64_t event_time_ms) {
  KeyedEvents keyed;
  keyed.begin_event("src", id, event_time_ms);
  keyed.add(kSeries, 60, 1, event_time_ms);
  keyed.end_event();
  return keyed;
}

// Admits `id`'s event and says whether it was new.
bool admit(DedupTable& dedup, const std::string& id, int64_t event_time_ms, int64_t now_ms) {
  WindowTable admitted;
  int64_t duplicates = 0;
  REQUIRE(dedup.admit(one_event(id, event_time_ms), now_ms, &admitted, &duplicates));
  REQUIRE(admitted.size() + duplicates == 1);
  return admitted.size() == 1;
}

}  // namespace

TEST_CASE("dedup table: a key admits its event once") {
  SchemaBuffer buffer;
  DedupTable dedup;
  REQUIRE(dedup.prepare(buffer.get(), kWindow, 0));
  REQUIRE(dedup.start(std::nullopt));
  CHECK(admit(dedup, "e1", kNow, kNow));
  CHECK_FALSE(admit(dedup, "e1", kNow, kNow + 1000));
  CHECK(admit(dedup, "e1", kNow + 1, kNow + 1000));  // another time: another event
  CHECK(dedup.keys() == 2);
  CHECK(buffer.query("SELECT count(*) FROM dedup") == 2);
}

TEST_CASE("dedup table: timed keys expire by event time, late and timeless ones by arrival") {
  SchemaBuffer buffer;
  DedupTable dedup;
  REQUIRE(dedup.prepare(buffer.get(), kWindow, 0));
  REQUIRE(dedup.start(std::nullopt));
  const int64_t late = DedupTable::kLateAfter_ms;
  REQUIRE(admit(dedup, "timed", kNow, kNow));
  REQUIRE(admit(dedup, "late", kNow - 2 * late, kNow));
  REQUIRE(admit(dedup, "timeless", 0, kNow));
  CHECK(buffer.query("SELECT count(*) FROM dedup WHERE by_arrival = 1") == 2);

  int64_t due = 0;
  REQUIRE(dedup.next_expiry_ms(&due));
  CHECK(due == kNow + kWindow);  // the by-arrival keys'
  REQUIRE(dedup.expire(kNow + kWindow));
  CHECK(dedup.keys() == 3);  // not yet: seen exactly one window ago
  REQUIRE(dedup.expire(kNow + kWindow + 1));
  CHECK(dedup.keys() == 1);
  CHECK(admit(dedup, "late", kNow - 2 * late, kNow + kWindow + 1));  // forgotten: new again

  REQUIRE(dedup.next_expiry_ms(&due));
  CHECK(due == kNow + kWindow + late);  // the timed key's: its time, a window and `late` on
  REQUIRE(dedup.expire(kNow + kWindow + late));
  CHECK_FALSE(admit(dedup, "timed", kNow, kNow + kWindow + late));  // still remembered
  REQUIRE(dedup.expire(kNow + kWindow + late + 1));
  CHECK(dedup.keys() == 1);  // the late key admitted again, a window from its new arrival
  CHECK(buffer.query("SELECT count(*) FROM dedup WHERE by_arrival = 0") == 0);
  REQUIRE(dedup.next_expiry_ms(&due));
  CHECK(due == kNow + 2 * kWindow + 1);
}

TEST_CASE("dedup table: over the bound the oldest keys are shed and the horizon reported") {
  SchemaBuffer buffer;
  DedupTable dedup;
  REQUIRE(dedup.prepare(buffer.get(), kWindow, 3 * DedupTable::kBytesPerKey));
  REQUIRE(dedup.start(std::nullopt));
  for (int i = 0; i < 5; ++i) REQUIRE(admit(dedup, "e" + std::to_string(i), kNow + i, kNow + 10));
  CHECK(dedup.over_bound());
  int64_t shed = -1, horizon_ms = -1;
  REQUIRE(dedup.shed_oldest(kNow + 10, &shed, &horizon_ms));
  CHECK(shed == 2);
  CHECK(dedup.keys() == 3);
  CHECK_FALSE(dedup.over_bound());
  CHECK(horizon_ms == 10 - 2);  // the oldest kept key's time is kNow + 2
  CHECK_FALSE(admit(dedup, "e4", kNow + 4, kNow + 11));  // the newest are kept
  CHECK(admit(dedup, "e0", kNow + 0, kNow + 11));        // the oldest are forgotten

  shed = horizon_ms = -1;
  REQUIRE(dedup.shed_oldest(kNow + 11, &shed, &horizon_ms));
  CHECK(shed == 1);
}

TEST_CASE("dedup table: the key count comes from meta when saved, else from the table") {
  SchemaBuffer buffer;
  REQUIRE(exec(buffer.get(), "INSERT INTO dedup VALUES (x'01', 1, 1), (x'02', 1, 1)"));
  DedupTable counted, saved;
  REQUIRE(counted.prepare(buffer.get(), kWindow, 0));
  REQUIRE(counted.start(std::nullopt));
  CHECK(counted.keys() == 2);
  REQUIRE(saved.prepare(buffer.get(), kWindow, 0));
  REQUIRE(saved.start(7));
  CHECK(saved.keys() == 7);
}

TEST_CASE("dedup table: a mark taken before a transaction puts back the count") {
  SchemaBuffer buffer;
  DedupTable dedup;
  REQUIRE(dedup.prepare(buffer.get(), kWindow, 0));
  REQUIRE(dedup.start(std::nullopt));
  REQUIRE(admit(dedup, "kept", kNow, kNow));
  DedupTable::Mark before = dedup.mark();
  REQUIRE(exec(buffer.get(), "BEGIN"));
  REQUIRE(admit(dedup, "rolled-back", kNow, kNow));
  REQUIRE(exec(buffer.get(), "ROLLBACK"));
  dedup.roll_back_to(before);
  CHECK(dedup.keys() == 1);
  CHECK(dedup.keys() == buffer.query("SELECT count(*) FROM dedup"));
}

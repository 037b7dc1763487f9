// UNIQUE_COUNT in the buffer: distinct values merge across commits per open window, go out with
// the closed partial as a sorted JSON array, and a revision carries only its own values. Also
// the migration of a version-1 buffer, which had no place for them.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <set>

#include "buffer/sqlite/schema.h"
#include "buffer/identity/series_identity.h"
#include "tests/unit/temp_buffer.h"
#include "uplink/record_encoder.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::TempBuffer;

namespace {

const std::string kUsers = encode_series({"users", "c1", {}});
const std::string kTokens = encode_series({"tokens", "c1", {}});
constexpr int64_t kWindow = 1672531260;     // 00:01:00
constexpr int64_t kInside = 1672531290000;  // 00:01:30
constexpr int64_t kClosed = 1672531330000;  // 00:02:10: end + 10 s grace

CommitBatch distinct_batch(std::vector<std::string> values, int64_t time_ms = kInside) {
  CommitBatch batch;
  for (const auto& v : values) batch.deltas.add_distinct(kUsers, kWindow, v, time_ms);
  return batch;
}

}  // namespace

TEST_CASE("distinct values merge across commits and leave with the partial, sorted") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  CommitResult result;
  REQUIRE(store->commit(distinct_batch({"u2", "u1", "u2"}), kInside, &result));
  CommitBatch mixed = distinct_batch({"u1", "u3", "quote\"d"});
  mixed.deltas.add(kTokens, kWindow, 5, kInside);
  REQUIRE(store->commit(mixed, kInside + 1, &result));
  REQUIRE(store->commit({}, kClosed, &result));

  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 2);
  const OutboxRow& users = rows[0].series.meter == "users" ? rows[0] : rows[1];
  const OutboxRow& tokens = rows[0].series.meter == "users" ? rows[1] : rows[0];
  CHECK(users.values.event_count == 6);
  CHECK(users.distinct_values_json == R"(["quote\"d","u1","u2","u3"])");
  CHECK(tokens.distinct_values_json == "[]");

  std::string record;
  encode_record("edge-1", users, &record);
  CHECK(record.find(R"("distinct_values":["quote\"d","u1","u2","u3"]})") != std::string::npos);
}

TEST_CASE("a late revision carries only the distinct values it saw itself") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  CommitResult result;
  REQUIRE(store->commit(distinct_batch({"a", "b"}), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  REQUIRE(store->commit(distinct_batch({"b", "c"}), kClosed + 1000, &result));
  REQUIRE(store->commit({}, kClosed + 20'000, &result));

  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].revision == 0);
  CHECK(rows[0].distinct_values_json == R"(["a","b"])");
  CHECK(rows[1].revision > 0);
  CHECK(rows[1].distinct_values_json == R"(["b","c"])");
}

TEST_CASE("a version-1 buffer is migrated: its outbox rows get an empty distinct array") {
  TempBuffer temp;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(temp.options().path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, schema_migration(0), nullptr, nullptr, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, R"sql(
      INSERT INTO meta VALUES ('schema_version', '1');
      INSERT INTO outbox VALUES (1, 'k', 1, 60, 60, 0, 1, 1, 1, 1, 1, 1000);)sql",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    std::string identity = kTokens;
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO series VALUES (1, ?1)", -1, &insert, nullptr);
    sqlite3_bind_blob(insert, 1, identity.data(), int(identity.size()), SQLITE_TRANSIENT);
    REQUIRE(sqlite3_step(insert) == SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  auto rows = read_outbox(temp.options());
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].distinct_values_json == "[]");
  CommitResult result;
  REQUIRE(store->commit(distinct_batch({"x"}), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  CHECK(read_outbox(temp.options()).back().distinct_values_json == R"(["x"])");
}

namespace {

// `count` distinct 40-byte values: together far more than one Kafka record (1 MB) can carry.
std::vector<std::string> many_values(int count) {
  std::vector<std::string> values;
  for (int i = 0; i < count; ++i) {
    std::string value = "user-" + std::to_string(1'000'000 + i);
    value.resize(40, 'x');
    values.push_back(value);
  }
  return values;
}

// The values of a partial's distinct array (the test's values hold no escapes).
std::vector<std::string> parse_array(const std::string& json) {
  std::vector<std::string> values;
  REQUIRE(json.front() == '[');
  REQUIRE(json.back() == ']');
  size_t at = 1;
  while (at < json.size() - 1) {
    size_t end = json.find('"', at + 1);
    values.push_back(json.substr(at + 1, end - at - 1));
    at = end + 2;  // past the quote and the comma (or the closing bracket)
  }
  return values;
}

// Every row fits one Kafka record, the values are all there exactly once, and the rows added
// for the overflow count no events and change no MIN, MAX or LATEST.
void check_split(const std::vector<OutboxRow>& rows, const std::vector<std::string>& sent,
                 int64_t events) {
  REQUIRE(rows.size() > 1);
  std::multiset<std::string> seen;
  std::set<std::string> keys;
  int64_t counted = 0, rows_with_events = 0;
  for (const OutboxRow& row : rows) {
    std::string record;
    encode_record("edge-1", row, &record);
    CHECK(record.size() < 1'000'000);
    for (auto& value : parse_array(row.distinct_values_json)) seen.insert(value);
    keys.insert(row.idempotency_key);
    counted += row.values.event_count;
    rows_with_events += row.values.event_count > 0;
    CHECK(row.values.value_min == rows[0].values.value_min);
    CHECK(row.values.value_max == rows[0].values.value_max);
    CHECK(row.values.latest_value == rows[0].values.latest_value);
    CHECK(row.values.latest_time_ms == rows[0].values.latest_time_ms);
    CHECK(row.window_start == rows[0].window_start);
  }
  CHECK(keys.size() == rows.size());
  CHECK(counted == events);
  CHECK(rows_with_events == 1);
  CHECK(seen == std::multiset<std::string>(sent.begin(), sent.end()));
}

// A store opened with `options`, whose ten minute windows of one hour share `values` (3,000
// each here), all closed at a commit three hours later, unread by the uplink, and so coarsened
// when the outbox is over coarsen_at.
constexpr int64_t kHour = 1672531200;  // 2023-01-01T00:00:00Z
constexpr int64_t kHourAfter = (kHour + 3 * 3600) * 1000;

std::unique_ptr<Store> coarsened_store(const StoreOptions& options,
                                       const std::vector<std::string>& values,
                                       CommitResult* result) {
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(options, kHourAfter, &store));
  CommitBatch batch;
  for (size_t i = 0; i < values.size(); ++i) {
    int64_t start = kHour + static_cast<int64_t>(i % 10) * 60;
    batch.deltas.add_distinct(kUsers, start, values[i], start * 1000);
  }
  store->claim_outbox_rows([] { return int64_t{0}; });
  REQUIRE(store->commit(batch, kHourAfter, result));
  REQUIRE(store->commit({}, kHourAfter + 20'000, result));  // closes all ten, then coarsens them
  return store;
}

}  // namespace

TEST_CASE("a window with more distinct values than one record holds leaves as several partials") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  std::vector<std::string> values = many_values(30'000);
  CommitResult result;
  REQUIRE(store->commit(distinct_batch(values), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  auto rows = read_outbox(temp.options());
  check_split(rows, values, 30'000);
  CHECK(rows[0].revision == 0);  // the first part keeps the window's own key
  CHECK(store->outbox_rows() == static_cast<int64_t>(rows.size()));
}

TEST_CASE("coarsening splits a merged partial's distinct values the same way") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.coarsen_at_rows = 5;
  std::vector<std::string> values = many_values(30'000);
  CommitResult result;
  std::unique_ptr<Store> store = coarsened_store(options, values, &result);
  CHECK(result.rows_coarsened == 10);
  auto rows = read_outbox(options);
  for (const OutboxRow& row : rows) CHECK(row.window_size_s == 3600);
  check_split(rows, values, 30'000);
}

TEST_CASE("a coarsened partial split over several rows is not merged again at the next commit") {
  TempBuffer temp;
  StoreOptions options = temp.options();
  options.coarsen_at_rows = 3;
  std::vector<std::string> values = many_values(30'000);
  CommitResult result;
  std::unique_ptr<Store> store = coarsened_store(options, values, &result);
  auto coarsened = read_outbox(options);
  REQUIRE(coarsened.size() > 3);  // still over coarsen_at: every commit tries again

  // Later commits with other work: the split rows are left as they are.
  for (int i = 1; i <= 3; ++i) {
    CommitBatch other;
    other.deltas.add(kTokens, kWindow, 1, kInside);
    REQUIRE(store->commit(other, kHourAfter + 20'000 + i * 1000, &result));
    CHECK(result.rows_coarsened == 0);
  }
  auto after = read_outbox(options);
  REQUIRE(after.size() == coarsened.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].seq == coarsened[i].seq);
    CHECK(after[i].idempotency_key == coarsened[i].idempotency_key);
  }
}

TEST_CASE("the uplink's reads stop after the row that fills their distinct-value budget") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside, &store));
  CommitResult result;
  REQUIRE(store->commit(distinct_batch(many_values(30'000)), kInside, &result));
  REQUIRE(store->commit({}, kClosed, &result));
  std::unique_ptr<OutboxReader> reader;
  REQUIRE(OutboxReader::open(temp.options().path, &reader));
  std::vector<OutboxRow> rows;
  REQUIRE(reader->read_after(0, 100, &rows));
  size_t all = rows.size();
  REQUIRE(all > 3);
  REQUIRE(reader->read_after(0, 100, &rows, rows[0].distinct_values_json.size() + 1));
  CHECK(rows.size() == 2);  // the first fills less than the budget, the second crosses it
  REQUIRE(reader->read_after(rows.back().seq, 100, &rows));
  CHECK(rows.size() == all - 2);  // the rest, from where the short read stopped
}

TEST_CASE("a split at shutdown, a restart and a late partial of the same window: all keys differ") {
  TempBuffer temp;
  std::vector<std::string> values = many_values(30'000);
  CommitResult result;
  {
    std::unique_ptr<Store> store;
    REQUIRE(Store::open(temp.options(), kInside, &store));
    REQUIRE(store->commit(distinct_batch(values), kInside, &result));
    REQUIRE(store->close_all_windows(kInside + 1000, &result));  // shutdown: early, and split
  }
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kInside + 2000, &store));
  REQUIRE(store->commit(distinct_batch(values), kInside + 2000, &result));  // late partial
  REQUIRE(store->commit({}, kClosed + 20'000, &result));
  auto rows = read_outbox(temp.options());
  std::set<std::string> keys;
  int64_t events = 0;
  for (const OutboxRow& row : rows) {
    keys.insert(row.idempotency_key);
    events += row.values.event_count;
  }
  CHECK(rows.size() >= 2 * 5);  // each partial split in five
  CHECK(keys.size() == rows.size());
  CHECK(events == 60'000);
}

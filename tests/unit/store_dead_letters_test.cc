// Dead letters through the store and the uplink's reader: a letter is read until the store marked
// it sent, which happens only at the commit after Store::mark_dead_letters_sent; the version tells
// the uplink when there is news; the reader cuts the raw event and says its full length.
#include <catch2/catch.hpp>

#include "buffer/store/dead_letter_reader.h"
#include "tests/unit/temp_buffer.h"

using namespace meterd;
using meterd::testing::TempBuffer;

namespace {

constexpr int64_t kNow = 1672531290000;

std::vector<UnsentDeadLetter> read_unsent(const TempBuffer& temp, int64_t max_raw = 8192) {
  std::unique_ptr<DeadLetterReader> reader;
  REQUIRE(DeadLetterReader::open(temp.options().path, max_raw, &reader));
  std::vector<UnsentDeadLetter> letters;
  REQUIRE(reader->read_after(0, 1000, &letters));
  return letters;
}

}  // namespace

TEST_CASE("store: a dead letter is marked sent at the commit after mark_dead_letters_sent") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kNow, &store));
  uint64_t version = store->dead_letter_version();
  CommitBatch batch;
  batch.dead_letters.push_back({kNow, "udp", "not JSON", "{{", "invalid"});
  batch.dead_letters.push_back({kNow, "http", "too late", "{}", "late"});
  CommitResult result;
  REQUIRE(store->commit(batch, kNow, &result));
  CHECK(store->dead_letter_version() != version);
  std::vector<UnsentDeadLetter> letters = read_unsent(temp);
  REQUIRE(letters.size() == 2);
  CHECK(letters[0].reason_code == "invalid");
  CHECK(letters[1].listener == "http");
  CHECK(letters[1].reason_code == "late");

  store->mark_dead_letters_sent({letters[0].id});
  CHECK(read_unsent(temp).size() == 2);  // not before the commit
  version = store->dead_letter_version();
  REQUIRE(store->commit({}, kNow + 200, &result));  // no events: the mark alone is work
  std::vector<UnsentDeadLetter> unsent = read_unsent(temp);
  REQUIRE(unsent.size() == 1);
  CHECK(unsent[0].id == letters[1].id);
  CHECK(store->dead_letter_version() == version);  // no new letters
  store.reset();
  // The sent letter is still kept, for meterctl dlq.
  SqliteDb db;
  REQUIRE(open_database(temp.options().path, false, &db));
  Statement count;
  REQUIRE(count.prepare(db.get(), "SELECT count(*) FROM dead_letters"));
  int64_t rows = 0;
  REQUIRE(query_int(count, &rows));
  CHECK(rows == 2);
}

TEST_CASE("dead letter reader: the raw event is cut at the bound and its length kept") {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  REQUIRE(Store::open(temp.options(), kNow, &store));
  CommitBatch batch;
  batch.dead_letters.push_back({kNow, "udp", "too big", std::string(100, 'x'), "oversized"});
  batch.dead_letters.push_back({kNow, "udp", "bad", std::string("a\0b", 3), "invalid"});
  CommitResult result;
  REQUIRE(store->commit(batch, kNow, &result));
  std::vector<UnsentDeadLetter> letters = read_unsent(temp, 10);
  REQUIRE(letters.size() == 2);
  CHECK(letters[0].raw == std::string(10, 'x'));
  CHECK(letters[0].raw_bytes == 100);
  CHECK(letters[1].raw == std::string("a\0b", 3));
  CHECK(letters[1].raw_bytes == 3);

  std::unique_ptr<DeadLetterReader> reader;
  REQUIRE(DeadLetterReader::open(temp.options().path, 10, &reader));
  std::vector<UnsentDeadLetter> after;
  REQUIRE(reader->read_after(letters[0].id, 10, &after));
  REQUIRE(after.size() == 1);
  CHECK(after[0].id == letters[1].id);
  UnsentDeadLetter one;
  bool found = false;
  REQUIRE(reader->read_one(letters[0].id, &one, &found));
  CHECK(found);
  CHECK(one.reason == "too big");
  REQUIRE(reader->read_one(12345, &one, &found));
  CHECK_FALSE(found);
}

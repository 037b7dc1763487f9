// The forwarder's delivery guarantees, with a real store in a temporary folder and a fake
// producer in place of librdkafka: every row goes out with its key, at most max_in_flight
// unconfirmed, a failed row is sent again, and a row leaves the buffer only after a delivery
// report said it arrived. Dead letters go the same way to their own topic and are marked sent
// (not deleted) only after a confirmation. The tests step the uplink loop with run_once() on
// their own thread.
#include <catch2/catch.hpp>

#include <atomic>
#include <climits>
#include <map>
#include <thread>

#include "buffer/identity/series_identity.h"
#include "tests/unit/temp_buffer.h"
#include "uplink/dead_letter_encoder.h"
#include "uplink/kafka_forwarder.h"
#include "uplink/record_encoder.h"

using namespace meterd;
using meterd::testing::read_outbox;
using meterd::testing::TempBuffer;

namespace {

constexpr int64_t kWindow = 1672531260;     // 00:01:00
constexpr int64_t kOnTime = 1672531290000;  // 00:01:30, inside the window
constexpr int64_t kClosed = 1672531330000;  // 00:02:10, window end + grace

// What the fake producers saw and what they will report; the test plays the broker with it.
struct FakeBroker {
  struct Record {
    std::string key;
    std::string payload;
    int64_t seq;
    int producer;  // which of the producers the forwarder made took it, from 1
    RecordKind kind;
  };
  std::vector<Record> produced;
  std::atomic<size_t> produced_count{0};  // read by a test while the uplink thread runs
  std::vector<std::pair<int64_t, RecordKind>> unreported;  // queued, no report given yet
  std::vector<DeliveryReport> reports;    // handed out by the next poll
  int queue_room = INT_MAX;               // records taken before the queue is full
  bool refuse = false;
  bool producer_failed = false;
  int producers_made = 0;
  bool connected = true;     // what the producer says of the brokers
  std::string broker_error;  // taken by the next look

  // Every queued record so far arrives (or fails), reported at the next poll.
  void report_all(bool delivered) {
    for (auto [seq, kind] : unreported) {
      reports.push_back({seq, delivered, delivered ? "" : "timed out", kind});
    }
    unreported.clear();
  }
  int times_produced(int64_t seq, RecordKind kind = RecordKind::kWindow) const {
    int n = 0;
    for (const Record& r : produced) n += r.seq == seq && r.kind == kind;
    return n;
  }
  std::vector<Record> of_kind(RecordKind kind) const {
    std::vector<Record> records;
    for (const Record& r : produced) {
      if (r.kind == kind) records.push_back(r);
    }
    return records;
  }
};

class FakeProducer final : public RecordProducer {
 public:
  FakeProducer(FakeBroker& broker, int id) : broker_(broker), id_(id) {}

  ProduceOutcome produce(RecordKind kind, std::string_view key, std::string_view payload,
                         int64_t seq, std::string* error) override {
    if (broker_.refuse) {
      *error = "unknown topic";
      return ProduceOutcome::kRefused;
    }
    if (broker_.queue_room == 0) return ProduceOutcome::kQueueFull;
    if (broker_.queue_room != INT_MAX) --broker_.queue_room;
    broker_.produced.push_back({std::string(key), std::string(payload), seq, id_, kind});
    broker_.unreported.push_back({seq, kind});
    ++broker_.produced_count;
    return ProduceOutcome::kQueued;
  }
  void poll(std::chrono::milliseconds, std::vector<DeliveryReport>* reports) override {
    reports->insert(reports->end(), broker_.reports.begin(), broker_.reports.end());
    broker_.reports.clear();
  }
  bool failed(std::string* reason) override {
    if (!broker_.producer_failed) return false;
    *reason = "fenced";
    return true;
  }
  BrokerState take_broker_state() override {
    BrokerState state{broker_.connected, broker_.broker_error};
    broker_.broker_error.clear();
    return state;
  }

 private:
  FakeBroker& broker_;
  int id_;
};

// A store whose outbox holds `rows` closed windows, one series each, and a forwarder on it.
struct Uplink {
  TempBuffer temp;
  std::unique_ptr<Store> store;
  FakeBroker broker;
  std::unique_ptr<KafkaForwarder> forwarder;
  ForwarderOptions options;

  explicit Uplink(int rows, int max_in_flight = 1000) {
    REQUIRE(Store::open(temp.options(), kOnTime, &store));
    CommitBatch batch;
    for (int i = 0; i < rows; ++i) {
      batch.deltas.add(encode_series({"tokens", "c" + std::to_string(i), {}}), kWindow, i, kOnTime);
    }
    CommitResult result;
    REQUIRE(store->commit(batch, kOnTime, &result));
    REQUIRE(store->commit({}, kClosed, &result));
    REQUIRE(result.windows_closed == rows);
    options.max_in_flight = max_in_flight;
    options.retry_backoff = std::chrono::milliseconds(0);
    start_forwarder();
  }
  // A forwarder on the buffer, as a (re)started agent makes one.
  void start_forwarder() {
    forwarder.reset();
    ProducerFactory make_fake = [this](std::unique_ptr<RecordProducer>* out) {
      // The records a failed producer held get no reports (RecordProducer::failed).
      broker.producer_failed = false;
      broker.unreported.clear();
      *out = std::make_unique<FakeProducer>(broker, ++broker.producers_made);
      return Status::ok();
    };
    REQUIRE(KafkaForwarder::create(options, store->agent_id(), temp.options().path, *store,
                                   make_fake, &forwarder));
  }
  // Rows still in the buffer once the store committed what the forwarder told it.
  size_t rows_after_commit() {
    CommitResult result;
    REQUIRE(store->commit({}, kClosed + 1000, &result));
    return read_outbox(temp.options()).size();
  }
  // Commits `n` dead letters (ids in order) and returns their ids.
  std::vector<int64_t> add_dead_letters(int n) {
    CommitBatch batch;
    for (int i = 0; i < n; ++i) {
      batch.dead_letters.push_back({kOnTime, "udp", "bad " + std::to_string(i), "{", "invalid"});
    }
    CommitResult result;
    REQUIRE(store->commit(batch, kClosed, &result));
    std::vector<int64_t> ids;
    for (const UnsentDeadLetter& letter : unsent_letters()) ids.push_back(letter.id);
    return ids;
  }
  // Dead letters not marked sent once the store committed what the forwarder told it.
  std::vector<UnsentDeadLetter> unsent_after_commit() {
    CommitResult result;
    REQUIRE(store->commit({}, kClosed + 1000, &result));
    return unsent_letters();
  }
  std::vector<UnsentDeadLetter> unsent_letters() {
    std::unique_ptr<DeadLetterReader> reader;
    REQUIRE(DeadLetterReader::open(temp.options().path, 8192, &reader));
    std::vector<UnsentDeadLetter> letters;
    REQUIRE(reader->read_after(0, 100'000, &letters));
    return letters;
  }
};

}  // namespace

TEST_CASE("forwarder: every outbox row is produced once, keyed by its idempotency key") {
  Uplink uplink(5);
  std::vector<OutboxRow> rows = read_outbox(uplink.temp.options());
  uplink.forwarder->run_once();
  REQUIRE(uplink.broker.produced.size() == rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string record;
    encode_record(uplink.store->agent_id(), rows[i], &record);
    CHECK(uplink.broker.produced[i].seq == rows[i].seq);
    CHECK(uplink.broker.produced[i].key == rows[i].idempotency_key);
    CHECK(uplink.broker.produced[i].payload == record);
  }
  uplink.forwarder->run_once();  // the outbox holds nothing new
  CHECK(uplink.broker.produced.size() == rows.size());
}

TEST_CASE("forwarder: a confirmed row is deleted at the store's next commit, not before") {
  Uplink uplink(3);
  uplink.forwarder->run_once();
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();  // polls the reports: Store::mark_delivered
  CHECK(read_outbox(uplink.temp.options()).size() == 3);
  CHECK(uplink.rows_after_commit() == 0);
}

TEST_CASE("forwarder: a failed delivery is produced again and its row stays until one succeeds") {
  Uplink uplink(2);
  uplink.forwarder->run_once();
  int64_t failing = uplink.broker.produced[0].seq;
  int64_t arriving = uplink.broker.produced[1].seq;
  uplink.broker.reports = {{failing, false, "timed out"}, {arriving, true, ""}};
  uplink.broker.unreported.clear();
  uplink.forwarder->run_once();  // the failed row waits for its back-off (none here)
  CHECK(uplink.rows_after_commit() == 1);
  CHECK(read_outbox(uplink.temp.options())[0].seq == failing);

  uplink.forwarder->run_once();  // produced again
  CHECK(uplink.broker.times_produced(failing) == 2);
  CHECK(uplink.broker.times_produced(arriving) == 1);
  uplink.broker.report_all(false);
  uplink.forwarder->run_once();
  CHECK(uplink.rows_after_commit() == 1);  // a second failure deletes nothing either

  uplink.forwarder->run_once();
  CHECK(uplink.broker.times_produced(failing) == 3);
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.rows_after_commit() == 0);
}

TEST_CASE("forwarder: no more than max_in_flight rows are unconfirmed at a time") {
  constexpr int kRows = 10;
  constexpr int kMaxInFlight = 3;
  Uplink uplink(kRows, kMaxInFlight);
  size_t most_unconfirmed = 0;
  for (int turn = 0; turn < 3 * kRows && uplink.broker.produced.size() < kRows; ++turn) {
    uplink.forwarder->run_once();
    most_unconfirmed = std::max(most_unconfirmed, uplink.broker.unreported.size());
    uplink.broker.report_all(true);
  }
  uplink.forwarder->run_once();  // the last reports
  CHECK(most_unconfirmed == kMaxInFlight);
  CHECK(uplink.broker.produced.size() == kRows);
  for (size_t i = 1; i < uplink.broker.produced.size(); ++i) {
    CHECK(uplink.broker.produced[i - 1].seq < uplink.broker.produced[i].seq);  // in seq order
  }
  CHECK(uplink.rows_after_commit() == 0);
}

TEST_CASE("forwarder: a full queue holds rows back, and they follow in order after a poll") {
  Uplink uplink(5);
  uplink.broker.queue_room = 2;
  uplink.forwarder->run_once();
  CHECK(uplink.broker.produced.size() == 2);
  uplink.broker.queue_room = INT_MAX;
  uplink.forwarder->run_once();
  REQUIRE(uplink.broker.produced.size() == 5);
  std::vector<OutboxRow> rows = read_outbox(uplink.temp.options());
  for (size_t i = 0; i < rows.size(); ++i) CHECK(uplink.broker.produced[i].seq == rows[i].seq);
}

TEST_CASE("forwarder: a row the client refuses is kept and produced again after the back-off") {
  Uplink uplink(1);
  uplink.broker.refuse = true;
  uplink.forwarder->run_once();
  CHECK(uplink.broker.produced.empty());
  CHECK(uplink.rows_after_commit() == 1);
  uplink.broker.refuse = false;
  uplink.forwarder->run_once();
  CHECK(uplink.broker.produced.size() == 1);
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.rows_after_commit() == 0);
}

TEST_CASE("forwarder: a failed producer is replaced and every unconfirmed row goes out again") {
  Uplink uplink(3);
  uplink.forwarder->run_once();
  uplink.broker.producer_failed = true;
  uplink.forwarder->run_once();  // replaced: the three rows are due again at once
  CHECK(uplink.broker.producers_made == 2);
  uplink.forwarder->run_once();
  REQUIRE(uplink.broker.produced.size() == 6);
  for (size_t i = 3; i < 6; ++i) CHECK(uplink.broker.produced[i].producer == 2);
  CHECK(uplink.rows_after_commit() == 3);
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.rows_after_commit() == 0);
}

TEST_CASE("forwarder: stop leaves unconfirmed rows in the buffer for the next start") {
  Uplink uplink(4);
  uplink.forwarder->start();
  for (int waited_ms = 0; uplink.broker.produced_count < 4 && waited_ms < 5000; ++waited_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  uplink.forwarder->stop();
  CHECK(uplink.broker.produced.size() == 4);
  CHECK(uplink.rows_after_commit() == 4);
}

TEST_CASE("forwarder: stats count produced, delivered and failed records once a turn") {
  Uplink uplink(3);
  CHECK(uplink.forwarder->stats().last_tick_steady_ms == 0);  // nothing published before a turn
  uplink.forwarder->run_once();
  UplinkStats stats = uplink.forwarder->stats();
  CHECK(stats.records_produced == 3);
  CHECK(stats.records_delivered == 0);
  CHECK(stats.last_tick_steady_ms > 0);
  CHECK(stats.broker_connected);

  int64_t failing = uplink.broker.produced[0].seq;
  uplink.broker.reports = {{failing, false, "timed out"},
                           {uplink.broker.produced[1].seq, true, ""},
                           {uplink.broker.produced[2].seq, true, ""}};
  uplink.broker.unreported.clear();
  uplink.forwarder->run_once();
  stats = uplink.forwarder->stats();
  CHECK(stats.records_delivered == 2);
  CHECK(stats.delivery_errors == 1);
  CHECK(stats.last_error == "timed out");
  CHECK(stats.delivery_latency.count() == 2);
  CHECK(stats.last_delivery_unix_ms > 0);

  uplink.forwarder->run_once();  // the failed one again: a resend counts as produced
  CHECK(uplink.forwarder->stats().records_produced == 4);
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.forwarder->stats().records_delivered == 3);
}

TEST_CASE("forwarder: stats follow the producer's view of the brokers and a refused produce") {
  Uplink uplink(1);
  uplink.broker.connected = false;
  uplink.broker.broker_error = "_ALL_BROKERS_DOWN: 1/1 brokers are down";
  uplink.broker.refuse = true;
  uplink.forwarder->run_once();
  UplinkStats stats = uplink.forwarder->stats();
  CHECK_FALSE(stats.broker_connected);
  CHECK(stats.last_error == "_ALL_BROKERS_DOWN: 1/1 brokers are down");
  CHECK(stats.delivery_errors == 1);  // the refused produce
  CHECK(stats.records_produced == 0);

  uplink.broker.connected = true;
  uplink.broker.refuse = false;
  uplink.forwarder->run_once();
  stats = uplink.forwarder->stats();
  CHECK(stats.broker_connected);
  CHECK(stats.records_produced == 1);
}

TEST_CASE("forwarder: dead letters go to their topic keyed by buffer and id, sent after a success") {
  Uplink uplink(1);
  std::vector<int64_t> ids = uplink.add_dead_letters(3);
  std::vector<UnsentDeadLetter> letters = uplink.unsent_letters();
  uplink.forwarder->run_once();
  std::vector<FakeBroker::Record> records = uplink.broker.of_kind(RecordKind::kDeadLetter);
  REQUIRE(records.size() == 3);
  CHECK(uplink.broker.of_kind(RecordKind::kWindow).size() == 1);  // windows go out as before
  for (size_t i = 0; i < records.size(); ++i) {
    std::string record;
    encode_dead_letter(uplink.store->agent_id(), uplink.store->buffer_id(), letters[i], &record);
    CHECK(records[i].seq == ids[i]);
    CHECK(records[i].key == dead_letter_key(uplink.store->buffer_id(), ids[i]));
    CHECK(records[i].payload == record);
  }
  uplink.forwarder->run_once();  // nothing new: nothing produced again
  CHECK(uplink.broker.of_kind(RecordKind::kDeadLetter).size() == 3);
  CHECK(uplink.unsent_after_commit().size() == 3);  // no confirmation yet

  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.unsent_letters().size() == 3);  // marked at the store's next commit, not before
  CHECK(uplink.unsent_after_commit().empty());
  CHECK(uplink.rows_after_commit() == 0);  // the window row was confirmed too
}

TEST_CASE("forwarder: a failed dead letter is produced again until a success marks it sent") {
  Uplink uplink(0);
  std::vector<int64_t> ids = uplink.add_dead_letters(2);
  uplink.forwarder->run_once();
  uplink.broker.unreported.clear();
  uplink.broker.reports = {{ids[0], false, "timed out", RecordKind::kDeadLetter},
                           {ids[1], true, "", RecordKind::kDeadLetter}};
  uplink.forwarder->run_once();  // the failed one waits for its back-off (none here)
  std::vector<UnsentDeadLetter> unsent = uplink.unsent_after_commit();
  REQUIRE(unsent.size() == 1);
  CHECK(unsent[0].id == ids[0]);
  uplink.forwarder->run_once();
  CHECK(uplink.broker.times_produced(ids[0], RecordKind::kDeadLetter) == 2);
  CHECK(uplink.broker.times_produced(ids[1], RecordKind::kDeadLetter) == 1);
  uplink.broker.report_all(false);
  uplink.forwarder->run_once();
  CHECK(uplink.unsent_after_commit().size() == 1);  // a second failure marks nothing either
  uplink.forwarder->run_once();
  CHECK(uplink.broker.times_produced(ids[0], RecordKind::kDeadLetter) == 3);
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.unsent_after_commit().empty());
}

TEST_CASE("forwarder: after a restart only the unsent dead letters go out again") {
  Uplink uplink(0);
  std::vector<int64_t> ids = uplink.add_dead_letters(3);
  uplink.forwarder->run_once();
  uplink.broker.unreported.clear();
  uplink.broker.reports = {{ids[1], true, "", RecordKind::kDeadLetter}};
  uplink.forwarder->run_once();
  uplink.unsent_after_commit();
  uplink.start_forwarder();  // the agent died with ids[0] and ids[2] unconfirmed
  uplink.forwarder->run_once();
  CHECK(uplink.broker.times_produced(ids[0], RecordKind::kDeadLetter) == 2);
  CHECK(uplink.broker.times_produced(ids[1], RecordKind::kDeadLetter) == 1);
  CHECK(uplink.broker.times_produced(ids[2], RecordKind::kDeadLetter) == 2);
  // The resend is byte-identical, key and record.
  std::vector<FakeBroker::Record> records = uplink.broker.of_kind(RecordKind::kDeadLetter);
  CHECK(records[0].payload == records[3].payload);
  CHECK(records[0].key == records[3].key);
}

TEST_CASE("forwarder: dead letters have their own in-flight bound; windows are not held back") {
  Uplink uplink(5, 2);
  uplink.options.dead_letters.max_in_flight = 3;
  uplink.start_forwarder();
  std::vector<int64_t> ids = uplink.add_dead_letters(10);
  uplink.forwarder->run_once();
  CHECK(uplink.broker.of_kind(RecordKind::kWindow).size() == 2);
  CHECK(uplink.broker.of_kind(RecordKind::kDeadLetter).size() == 3);
  for (int turn = 0; turn < 10; ++turn) {
    uplink.broker.report_all(true);
    uplink.forwarder->run_once();
  }
  std::vector<FakeBroker::Record> letters = uplink.broker.of_kind(RecordKind::kDeadLetter);
  REQUIRE(letters.size() == 10);
  for (size_t i = 0; i < letters.size(); ++i) CHECK(letters[i].seq == ids[i]);  // in id order
  CHECK(uplink.broker.of_kind(RecordKind::kWindow).size() == 5);
  CHECK(uplink.unsent_after_commit().empty());
  CHECK(uplink.rows_after_commit() == 0);
}

TEST_CASE("forwarder: a dead letter evicted before its confirmation is not sent again") {
  Uplink uplink(0);
  std::vector<int64_t> ids = uplink.add_dead_letters(1);
  uplink.forwarder->run_once();
  uplink.broker.report_all(false);
  // Past the limit (10,000 by default) the oldest letter goes, sent or not.
  CommitBatch batch;
  for (int i = 0; i < 10'000; ++i) batch.dead_letters.push_back({kOnTime, "udp", "x", "{"});
  CommitResult result;
  REQUIRE(uplink.store->commit(batch, kClosed, &result));
  CHECK(result.dead_letters_evicted == 1);
  uplink.forwarder->run_once();  // the failure: due again at once
  uplink.forwarder->run_once();
  CHECK(uplink.broker.times_produced(ids[0], RecordKind::kDeadLetter) == 1);
}

TEST_CASE("forwarder: a failed producer's unconfirmed dead letters go out from the new one") {
  Uplink uplink(0);
  std::vector<int64_t> ids = uplink.add_dead_letters(2);
  uplink.forwarder->run_once();
  uplink.broker.producer_failed = true;
  uplink.forwarder->run_once();
  uplink.forwarder->run_once();
  std::vector<FakeBroker::Record> records = uplink.broker.of_kind(RecordKind::kDeadLetter);
  REQUIRE(records.size() == 4);
  CHECK(records[2].producer == 2);
  CHECK(records[3].producer == 2);
  uplink.broker.report_all(true);
  uplink.forwarder->run_once();
  CHECK(uplink.unsent_after_commit().empty());
}

TEST_CASE("forwarder: stats count dead letters produced and delivered apart from windows") {
  Uplink uplink(1);
  std::vector<int64_t> ids = uplink.add_dead_letters(2);
  uplink.forwarder->run_once();
  UplinkStats stats = uplink.forwarder->stats();
  CHECK(stats.records_produced == 1);
  CHECK(stats.dead_letters_produced == 2);
  uplink.broker.unreported.clear();
  uplink.broker.reports = {{ids[0], true, "", RecordKind::kDeadLetter},
                           {ids[1], false, "broker down", RecordKind::kDeadLetter}};
  uplink.forwarder->run_once();
  stats = uplink.forwarder->stats();
  CHECK(stats.dead_letters_delivered == 1);
  CHECK(stats.records_delivered == 0);
  CHECK(stats.delivery_errors == 0);  // window records only
  CHECK(stats.last_error == "broker down");
  uplink.forwarder->run_once();
  CHECK(uplink.forwarder->stats().dead_letters_produced == 3);
}

// The one-way hand-over between the ingest and store threads: a slot of one batch, filled by the
// ingest loop's timer only when free (otherwise Ingest keeps accumulating), and closed after the
// last batch at shutdown.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "agent/ingest/batch_handoff.h"
#include "agent/ingest/handoff_timer.h"
#include "agent/ingest/ingest.h"

using namespace meterd;

namespace {

CommitBatch batch_of_generation(uint64_t generation) {
  CommitBatch batch;
  batch.generation = generation;
  batch.events = 1;
  return batch;
}

Config config_with_count_meter() {
  Config config;
  MeterConfig meter;
  meter.slug = "prompts";
  meter.event_type = "prompt";
  meter.aggregation = Aggregation::kCount;
  config.meters.push_back(meter);
  return config;
}

// One event of the meter's type, now.
void accept_one_event(Ingest& ingest) {
  std::string bytes = R"({"specversion":"1.0","id":"1","source":"s","type":"prompt",)"
                      R"("subject":"c1","data":{}})";
  Payload payload;
  payload.bytes = bytes;
  payload.listener = "test";
  payload.received_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  ingest.accept(payload, nullptr);
}

// The ingest side of a hand-over, driven one timer handler at a time by run_one().
struct IngestSide {
  Config config = config_with_count_meter();
  MeterSet meters{config.meters};
  Ingest ingest{config, meters};
  BatchHandoff handoff;
  boost::asio::io_context io;
  HandoffTimer timer{io, std::chrono::milliseconds(1), ingest, handoff};
};

}  // namespace

TEST_CASE("the hand-over slot holds one batch until the store side takes it") {
  BatchHandoff handoff;
  CHECK(handoff.slot_free());
  handoff.hand_over(batch_of_generation(7));
  CHECK_FALSE(handoff.slot_free());

  CommitBatch taken;
  REQUIRE(handoff.take(&taken));
  CHECK(taken.generation == 7);
  CHECK(handoff.slot_free());
}

TEST_CASE("the store side waits for a batch handed over from another thread") {
  BatchHandoff handoff;
  CommitBatch taken;
  bool got = false;
  std::thread store_thread([&] { got = handoff.take(&taken); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  handoff.hand_over(batch_of_generation(3));
  store_thread.join();
  CHECK(got);
  CHECK(taken.generation == 3);
}

TEST_CASE("a closed hand-over still gives its last batch, then no more") {
  BatchHandoff handoff;
  handoff.hand_over(batch_of_generation(9));
  handoff.close();
  CHECK(handoff.closed());
  CHECK_FALSE(handoff.slot_free());  // nothing more is to be handed over

  CommitBatch taken;
  REQUIRE(handoff.take(&taken));
  CHECK(taken.generation == 9);
  CHECK_FALSE(handoff.take(&taken));
  CHECK_FALSE(handoff.slot_free());
}

TEST_CASE("a tick that finds the slot full leaves the events in Ingest for the next tick") {
  IngestSide side;
  side.timer.start();
  accept_one_event(side.ingest);
  side.io.run_one();  // tick: the slot was free, generation 1 goes in
  accept_one_event(side.ingest);
  accept_one_event(side.ingest);
  side.io.run_one();  // tick: the slot is still full, nothing is taken from Ingest
  CHECK_FALSE(side.handoff.slot_free());

  CommitBatch taken;
  REQUIRE(side.handoff.take(&taken));
  CHECK(taken.generation == 1);
  CHECK(taken.events == 1);  // not merged with the two that came later

  side.io.run_one();  // tick: free again; the two events kept accumulating in Ingest
  REQUIRE(side.handoff.take(&taken));
  CHECK(taken.generation == 2);
  CHECK(taken.events == 2);
}

TEST_CASE("finishing hands over the last batch and closes the hand-over") {
  IngestSide side;
  side.timer.start();
  accept_one_event(side.ingest);
  side.timer.finish();
  CHECK(side.handoff.closed());

  CommitBatch taken;
  REQUIRE(side.handoff.take(&taken));
  CHECK(taken.events == 1);
  side.io.poll();  // the cancelled tick runs, and must hand nothing over
  CHECK_FALSE(side.handoff.take(&taken));
}

TEST_CASE("finishing while the slot is full waits for the store side, then hands over the rest") {
  IngestSide side;
  side.timer.start();
  accept_one_event(side.ingest);
  side.io.run_one();  // generation 1 in the slot
  accept_one_event(side.ingest);
  accept_one_event(side.ingest);
  side.timer.finish();
  CHECK_FALSE(side.handoff.closed());  // the last batch has not gone yet

  CommitBatch taken;
  REQUIRE(side.handoff.take(&taken));
  CHECK(taken.generation == 1);
  // The cancelled tick, then the retry (HandoffTimer::kLastRetry) that hands over the rest.
  while (!side.handoff.closed()) side.io.run_one();
  REQUIRE(side.handoff.take(&taken));
  CHECK(taken.generation == 2);
  CHECK(taken.events == 2);
  CHECK_FALSE(side.handoff.take(&taken));
}

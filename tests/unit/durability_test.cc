// Durability: acknowledged payloads hear their verdict in generation order, only once their
// generation is settled, and "refused" when the commit loop refused it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "agent/ingest/durability.h"

using namespace meterd;

namespace {

// What each callback heard, in the order they ran: (the waiter's generation, durable).
using Verdicts = std::vector<std::pair<uint64_t, bool>>;

void wait_for(Durability& durability, uint64_t generation, Verdicts* heard) {
  durability.when_durable(generation,
                          [generation, heard](bool durable) { heard->emplace_back(generation, durable); });
}

}  // namespace

TEST_CASE("durability runs callbacks only at or below the settled generation, in order") {
  Durability durability;
  Verdicts heard;
  wait_for(durability, 1, &heard);
  wait_for(durability, 2, &heard);
  wait_for(durability, 2, &heard);
  wait_for(durability, 3, &heard);

  CHECK(heard.empty());  // nothing settled yet
  durability.settle_through(2, true);
  CHECK(heard == Verdicts{{1, true}, {2, true}, {2, true}});
  CHECK(durability.settled_generation() == 2);

  durability.settle_through(3, true);
  CHECK(heard == Verdicts{{1, true}, {2, true}, {2, true}, {3, true}});
}

TEST_CASE("durability tells waiters of a refused generation false, and later ones their own") {
  Durability durability;
  Verdicts heard;
  wait_for(durability, 1, &heard);
  wait_for(durability, 2, &heard);
  durability.settle_through(1, false);
  CHECK(heard == Verdicts{{1, false}});

  durability.settle_through(2, true);
  CHECK(heard == Verdicts{{1, false}, {2, true}});
}

TEST_CASE("durability settles the generations a merged retry held with that commit's verdict") {
  // A failed commit's batch (generation 1) is merged with the next (2): one settle covers both.
  Durability durability;
  Verdicts heard;
  wait_for(durability, 1, &heard);
  wait_for(durability, 2, &heard);
  wait_for(durability, 3, &heard);
  durability.settle_through(2, false);
  CHECK(heard == Verdicts{{1, false}, {2, false}});
}

TEST_CASE("durability answers a waiter for an already settled generation at once") {
  Durability durability;
  durability.settle_through(4, false);
  Verdicts heard;
  wait_for(durability, 3, &heard);
  CHECK(heard == Verdicts{{3, false}});
}

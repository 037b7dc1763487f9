// LogLimiter: a burst of lines, then one per interval, with the count of lines held back handed
// to the next line allowed; time is driven by hand (the caller's clock).
#include <catch2/catch.hpp>

#include "buffer/base/log_limiter.h"

using namespace meterd;

TEST_CASE("log limiter: a burst, then one line per interval", "[log]") {
  LogLimiter limiter(10'000, 3);
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(limiter.allow(1'000, &suppressed));
    CHECK(suppressed == 0);
  }
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limiter.allow(1'000 + i * 1'000, &suppressed));
  CHECK(limiter.suppressed() == 5);
  CHECK_FALSE(limiter.allow(10'999, &suppressed));  // not yet a whole interval
  REQUIRE(limiter.allow(11'000, &suppressed));       // one interval: one line, with the count
  CHECK(suppressed == 6);
  CHECK(limiter.suppressed() == 0);
  CHECK_FALSE(limiter.allow(11'001, &suppressed));
  REQUIRE(limiter.allow(21'000, &suppressed));
  CHECK(suppressed == 1);
}

TEST_CASE("log limiter: a quiet spell refills the burst, never more", "[log]") {
  LogLimiter limiter(1'000, 2);
  uint64_t suppressed = 0;
  REQUIRE(limiter.allow(0, &suppressed));
  REQUIRE(limiter.allow(0, &suppressed));
  CHECK_FALSE(limiter.allow(0, &suppressed));
  // An hour later: the burst again (2 lines), not 3,600 banked ones.
  REQUIRE(limiter.allow(3'600'000, &suppressed));
  CHECK(suppressed == 1);
  REQUIRE(limiter.allow(3'600'000, &suppressed));
  CHECK(suppressed == 0);
  CHECK_FALSE(limiter.allow(3'600'000, &suppressed));
  CHECK_FALSE(limiter.allow(3'600'999, &suppressed));
  REQUIRE(limiter.allow(3'601'000, &suppressed));
  CHECK(suppressed == 2);
}

TEST_CASE("log limiter: partial intervals add up; a clock stepping back earns nothing", "[log]") {
  LogLimiter limiter(1'000, 1);
  uint64_t suppressed = 0;
  REQUIRE(limiter.allow(5'000, &suppressed));
  CHECK_FALSE(limiter.allow(5'600, &suppressed));
  CHECK_FALSE(limiter.allow(4'000, &suppressed));  // stepped back
  REQUIRE(limiter.allow(6'000, &suppressed));      // 5,000 + one interval, the 600 ms kept
  CHECK(suppressed == 2);
  CHECK_FALSE(limiter.allow(6'500, &suppressed));
  CHECK_FALSE(limiter.allow(6'900, &suppressed));
  REQUIRE(limiter.allow(7'000, &suppressed));
  CHECK(suppressed == 2);
}

TEST_CASE("log limiter: time passed while the bucket was full is not banked", "[log]") {
  LogLimiter limiter(1'000, 1);
  uint64_t suppressed = 0;
  REQUIRE(limiter.allow(0, &suppressed));
  REQUIRE(limiter.allow(1'500, &suppressed));      // refilled at 1,000; full until 1,500
  CHECK_FALSE(limiter.allow(2'000, &suppressed));  // the next line is due at 2,500, not 2,000
  REQUIRE(limiter.allow(2'500, &suppressed));
  CHECK(suppressed == 1);
}

TEST_CASE("log limiter: the suffix names the count only when there is one", "[log]") {
  CHECK(suppressed_note(0).empty());
  CHECK(suppressed_note(1) == " (1 similar suppressed)");
  CHECK(suppressed_note(1234) == " (1234 similar suppressed)");
}

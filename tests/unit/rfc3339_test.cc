// RFC 3339 parsing: the formats CloudEvents producers send, and the malformed ones refused.
#include <catch2/catch.hpp>

#include "agent/decode/rfc3339.h"

using meterd::parse_rfc3339_ms;

TEST_CASE("rfc3339 parses UTC with and without fractions") {
  int64_t ms = 0;
  REQUIRE(parse_rfc3339_ms("2023-01-01T00:01:00Z", &ms));
  CHECK(ms == 1672531260000);
  REQUIRE(parse_rfc3339_ms("2023-01-01T00:01:59.123Z", &ms));
  CHECK(ms == 1672531319123);
  REQUIRE(parse_rfc3339_ms("2023-01-01T00:01:59.1Z", &ms));
  CHECK(ms == 1672531319100);
  REQUIRE(parse_rfc3339_ms("2023-01-01T00:01:59.123456789Z", &ms));
  CHECK(ms == 1672531319123);
}

TEST_CASE("rfc3339 applies offsets") {
  int64_t ms = 0;
  REQUIRE(parse_rfc3339_ms("2023-01-01T02:01:00+02:00", &ms));
  CHECK(ms == 1672531260000);
  REQUIRE(parse_rfc3339_ms("2022-12-31T23:31:00-00:30", &ms));
  CHECK(ms == 1672531260000);
}

TEST_CASE("rfc3339 refuses malformed times") {
  int64_t ms = 0;
  for (const char* bad : {"", "2023-01-01", "2023-01-01T00:01:00", "2023-13-01T00:00:00Z",
                          "2023-02-30T00:00:00Z", "2023-01-01T24:00:00Z", "2023-01-01T00:00:00.Z",
                          "2023-01-01T00:00:00Zjunk", "yesterday", "2023-01-01T00:00:00+0200"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339_ms(bad, &ms));
  }
}

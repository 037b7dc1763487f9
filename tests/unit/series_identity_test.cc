// The series identity encoding: the writer the ingest thread uses agrees byte for byte with
// append_field, whatever the field sizes (its copies take different paths below 4, below 8 and
// from 8 bytes, and it grows its buffer past 256 bytes).
#include <catch2/catch.hpp>

#include <string>

#include "buffer/identity/series_identity.h"

using namespace meterd;

TEST_CASE("series identity writer encodes as append_field does, for every field size") {
  SeriesIdentityWriter writer;
  for (size_t size = 0; size <= 40; ++size) {
    std::string prefix, expected;
    append_field(&prefix, "meter");
    expected = prefix;
    writer.start(prefix);
    std::string field;
    for (size_t i = 0; i < size; ++i) field.push_back(static_cast<char>('a' + (i * 7 + size) % 26));
    for (int repeat = 0; repeat < 3; ++repeat) {
      writer.field(field);
      append_field(&expected, field);
    }
    INFO(size);
    CHECK(writer.view() == expected);
  }
}

TEST_CASE("series identity writer grows for long identities and starts afresh") {
  SeriesIdentityWriter writer;
  std::string expected, big(1000, 'x');
  writer.start("");
  writer.field(big);
  writer.field("tail");
  append_field(&expected, big);
  append_field(&expected, "tail");
  CHECK(writer.view() == expected);
  SeriesParts parts;
  writer.start("");
  writer.field("m");
  writer.field("subject-1");
  REQUIRE(decode_series(writer.view(), &parts));
  CHECK(parts.meter == "m");
  CHECK(parts.subject == "subject-1");
}

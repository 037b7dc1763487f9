// same_text: equality of short strings by overlapping word compares. Its paths differ below 4,
// below 8 and from 8 bytes, so every length up to 24 is checked against std::string_view's ==,
// with one byte changed at every position, and with strings of different lengths.
#include <catch2/catch.hpp>

#include <string>

#include "buffer/base/same_text.h"

using namespace meterd;

TEST_CASE("same_text agrees with == for every length and every differing position") {
  for (size_t size = 0; size <= 24; ++size) {
    std::string a;
    for (size_t i = 0; i < size; ++i) a.push_back(static_cast<char>('a' + (i * 5 + size) % 26));
    std::string b = a;  // a copy: equal bytes at a different address
    INFO(size);
    CHECK(same_text(a, b));
    for (size_t at = 0; at < size; ++at) {
      std::string changed = a;
      changed[at] = static_cast<char>(changed[at] ^ 0x20);
      INFO(at);
      CHECK_FALSE(same_text(a, changed));
      CHECK_FALSE(same_text(changed, a));
    }
    CHECK_FALSE(same_text(a, a + "x"));
    if (size > 0) CHECK_FALSE(same_text(a, std::string_view(a).substr(1)));
  }
}

// DistinctChunks: arrays never above the budget (a lone oversized value excepted), values kept in
// order and whole, and an empty set still one array.
#include <catch2/catch.hpp>

#include <simdjson.h>

#include "buffer/windows/distinct_chunks.h"

using namespace meterd;

namespace {

// The strings of every array, in order (decoded, so escapes are checked too).
std::vector<std::string> decode_all(const std::vector<std::string>& arrays) {
  simdjson::dom::parser parser;
  std::vector<std::string> values;
  for (const std::string& array : arrays) {
    simdjson::dom::array parsed;
    REQUIRE(parser.parse(array).get(parsed) == simdjson::SUCCESS);
    for (simdjson::dom::element value : parsed) values.emplace_back(std::string_view(value));
  }
  return values;
}

std::string json_string(const std::string& text) { return "\"" + text + "\""; }

}  // namespace

TEST_CASE("no values: one empty array") {
  DistinctChunks chunks;
  CHECK(chunks.take() == std::vector<std::string>{"[]"});
}

// Adds 1,000 values of `quoted_size` bytes each (quotes included); returns the arrays, having
// checked that none passes the budget and that the values come back whole and in order.
std::vector<std::string> fill(size_t quoted_size) {
  std::vector<std::string> sent;
  DistinctChunks chunks;
  for (int i = 0; i < 1000; ++i) {
    std::string value = std::to_string(100000 + i);
    value.resize(quoted_size - 2, 'v');
    sent.push_back(value);
    chunks.add_quoted(json_string(value));
  }
  std::vector<std::string> arrays = chunks.take();
  for (const std::string& array : arrays) CHECK(array.size() <= DistinctChunks::kMaxArrayBytes);
  CHECK(decode_all(arrays) == sent);
  CHECK(chunks.take() == std::vector<std::string>{"[]"});  // emptied, ready for the next
  return arrays;
}

TEST_CASE("arrays fill up to the budget exactly and never beyond it") {
  // n values of q bytes take n * (q + 1) + 1 bytes with their commas and brackets.
  // 189 * 1,387 + 1 = 262,144: exactly the budget, so the 189th still fits.
  CHECK(fill(1386)[0].size() == DistinctChunks::kMaxArrayBytes);
  // 256 * 1,024 + 1 = 262,145: one byte over, so an array holds 255.
  CHECK(fill(1023)[0].size() == 255 * 1024 + 1);
}

TEST_CASE("a value over the budget goes alone into an array of its own") {
  DistinctChunks chunks;
  std::string huge(DistinctChunks::kMaxArrayBytes, 'h');
  chunks.add_quoted(json_string("a"));
  chunks.add_quoted(json_string(huge));
  chunks.add_quoted(json_string("b"));
  std::vector<std::string> arrays = chunks.take();
  REQUIRE(arrays.size() == 3);
  CHECK(arrays[0] == R"(["a"])");
  CHECK(arrays[2] == R"(["b"])");
  CHECK(decode_all(arrays) == std::vector<std::string>{"a", huge, "b"});
}

TEST_CASE("the budget counts escaped bytes: control characters take six each") {
  DistinctChunks chunks;
  std::vector<std::string> sent;
  for (int i = 0; i < 40; ++i) {
    std::string value(DistinctChunks::kMaxValueBytes, '\x01');
    value[0] = static_cast<char>('A' + i % 26);
    value[1] = static_cast<char>('0' + i / 26);
    sent.push_back(value);
    std::string escaped = "\"";
    for (char c : value) escaped += c == '\x01' ? std::string("\\u0001") : std::string(1, c);
    chunks.add_quoted(escaped + "\"");
  }
  std::vector<std::string> arrays = chunks.take();
  CHECK(arrays.size() == 4);  // 24.6 KB each: ten to an array
  for (const std::string& array : arrays) CHECK(array.size() <= DistinctChunks::kMaxArrayBytes);
  CHECK(decode_all(arrays) == sent);
}

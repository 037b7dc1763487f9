// DistinctChunks: a partial's distinct values (UNIQUE_COUNT) cut into JSON arrays small enough
// for one Kafka record each.
//
// A record beyond Kafka's message size (1 MB by default; ~25,000 values) would be refused by the
// broker and retried forever, and the window's unique count would never arrive. So each array
// holds at most kMaxArrayBytes of values (plus one value, bounded by kMaxValueBytes); the store
// sends the overflow as further partials of the window (see FORMAT.md, "UNIQUE_COUNT beyond one
// record"), and ClickHouse counts the union of all of them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace meterd {

class DistinctChunks {
 public:
  // 256 KiB of values per record: a quarter of Kafka's default message.max.bytes, which leaves
  // room for the record's other fields (subject and group values) whatever their size.
  static constexpr size_t kMaxArrayBytes = 256 * 1024;
  // The longest value a UNIQUE_COUNT meter accepts (longer ones are dead letters: Meter::distinct_value):
  // at most 6 bytes of JSON a byte once escaped, so one value never makes a record too large.
  static constexpr size_t kMaxValueBytes = 4096;

  // Appends a value already quoted as a JSON string; values go into arrays in the order given.
  void add_quoted(std::string_view quoted);

  // The arrays (at least one: "[]" when no value was added); leaves this empty for reuse.
  std::vector<std::string> take();

 private:
  std::vector<std::string> arrays_;
};

}  // namespace meterd

// DataValue: what an event's `data` holds at one path a meter reads.
//
// The decoder reads each event forward only (simdjson On-Demand), so a meter cannot look a path
// up afterwards: the decoder captures every path any meter reads while it walks the event, and
// meters read these captures. Views point into the payload or the parser's string buffer and are
// valid while the event is being handed to the sink.
#pragma once

#include <cstdint>
#include <string_view>

namespace meterd {

struct DataValue {
  enum class Kind : uint8_t {
    kMissing,    // no value at the path in this event
    kNull,
    kString,     // `text`: the string, unescaped
    kInteger,    // `integer`
    kUnsigned,   // `unsigned_integer`: integers from 2^63 to 2^64 - 1
    kDouble,     // `number`
    kBadNumber,  // a number beyond the double range, or an integer beyond 64 bits
    kBool,       // `boolean`
    kObject,     // `text`: the object's JSON as received
    kArray,      // `text`: the array's JSON as received
  };
  Kind kind = Kind::kMissing;
  bool boolean = false;
  int64_t integer = 0;
  uint64_t unsigned_integer = 0;
  double number = 0;
  // Strings, objects and arrays as above; numbers (bad ones too) as written, for group values.
  std::string_view text;
};

}  // namespace meterd

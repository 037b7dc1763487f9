// EventSource: the load generator's events, a pure function of their index, so any number of
// sender threads can produce disjoint ranges and the expected totals are known exactly.
//
// Event i is a ~170-byte CloudEvents "prompt" event (the default config's meters): subject
// customer-(i % subjects), data.model model-((i / subjects) % groups), data.region eu|us, and
// data.tokens a hash of i in 1..5000. `time` is the sender's clock, so events fall in the
// current window. Ids are unique per run (the run id prefixes them), which the acknowledged
// transports need, since they deduplicate by (source, id).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd::bench {

enum class Format { kJson, kMsgpack };

struct EventShape {
  int64_t subjects = 1000;
  int64_t groups = 4;
  std::string run_id = "r";
};

class EventSource {
 public:
  EventSource(EventShape shape, Format format) : shape_(std::move(shape)), format_(format) {}

  // Appends events [first, first + count) as one payload: a JSON array (or one object when
  // count is 1), or concatenated msgpack maps. Never holds a newline, so a payload is also a
  // valid Unix stream line.
  void append_payload(int64_t first, int64_t count, int64_t time_ms, std::string* out) const;

  // Appends event `index` alone, as JSON or msgpack.
  void append_event(int64_t index, int64_t time_ms, std::string* out) const;

  static int64_t tokens_of(int64_t index);
  int64_t subject_of(int64_t index) const { return index % shape_.subjects; }
  int64_t group_of(int64_t index) const { return (index / shape_.subjects) % shape_.groups; }
  const EventShape& shape() const { return shape_; }
  Format format() const { return format_; }

 private:
  void append_json(int64_t index, std::string_view time, std::string* out) const;
  void append_msgpack(int64_t index, std::string_view time, std::string* out) const;

  EventShape shape_;
  Format format_;
};

// "2024-01-02T03:04:05.678Z" for a unix time in milliseconds.
std::string rfc3339_ms(int64_t time_ms);

}  // namespace meterd::bench

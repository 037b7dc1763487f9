// CloudEventDecoder: bytes in, CloudEvents out. Pure (no I/O), so it is unit-tested and fuzzed
// alone.
//
// A payload holds one event (a JSON object), a JSON array of events, or newline-separated events.
// Each valid event goes to EventSink::on_event, each invalid one to EventSink::on_invalid with
// its index in the payload, the field at fault and the reason; one bad event never hides the
// good ones beside it. The required fields are OpenMeter's: specversion "1.0", and non-empty
// id, source, type and subject; `time` (RFC 3339) defaults to the time of receipt; `data` is an
// object or absent.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd {

struct CloudEvent {
  std::string_view id;
  std::string_view source;
  std::string_view type;
  std::string_view subject;
  int64_t time_ms = 0;    // the event's `time`, or the time of receipt when it has none
  bool has_time = false;  // it had a `time` of its own
  simdjson::dom::element data;  // an object, or null when the event has none
  bool has_data = false;
  simdjson::dom::element element;  // the whole event, for dead letters (simdjson::minify)
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Views into the event are valid during the call only.
  virtual void on_event(const CloudEvent& event) = 0;
  // `raw` is the event minified, or the bytes received when they did not parse.
  virtual void on_invalid(size_t index, std::string_view field, std::string_view reason,
                          std::string_view raw) = 0;
};

class CloudEventDecoder {
 public:
  // `padded`: the caller guarantees simdjson::SIMDJSON_PADDING readable bytes after the payload,
  // which spares a copy.
  void decode(std::string_view payload, bool padded, int64_t received_ms, EventSink& sink);

 private:
  void decode_element(simdjson::dom::element element, size_t index, int64_t received_ms,
                      EventSink& sink);
  void decode_lines(std::string_view payload, int64_t received_ms, EventSink& sink);
  bool parse_time(std::string_view text, int64_t* time_ms);

  simdjson::dom::parser parser_;
  std::string minified_;
  std::string last_time_text_;  // the last `time` parsed, and its value
  int64_t last_time_ms_ = 0;
};

}  // namespace meterd

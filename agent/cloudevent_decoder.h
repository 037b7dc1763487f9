// CloudEventDecoder: bytes in, CloudEvents out. Pure (no I/O), so it is unit-tested and fuzzed
// alone.
//
// A payload holds one event (a JSON object), a JSON array of events, or newline-separated events.
// Each valid event goes to EventSink::on_event, each invalid one to EventSink::on_invalid with
// its index in the payload, the field at fault and the reason; one bad event never hides the
// good ones beside it. The required fields are OpenMeter's: specversion "1.0", and non-empty
// id, source, type and subject; `time` (RFC 3339) defaults to the time of receipt; `data` is an
// object or absent. What `data` holds at the meters' paths (DataPaths) is captured on the way.
//
// JSON that cannot be read (a broken bracket, string or UTF-8) makes the whole document invalid,
// as before any of its events reached the sink: a document is read to its end before the first
// event is handed on. Values no meter reads are skipped over, not checked: `"x":tru` in a field
// nobody meters goes unnoticed (simdjson On-Demand, the price of reading only what is needed).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/data_paths.h"
#include "agent/data_value.h"

namespace meterd {

struct CloudEvent {
  std::string_view id;
  std::string_view source;
  std::string_view type;
  std::string_view subject;
  int64_t time_ms = 0;    // the event's `time`, or the time of receipt when it has none
  bool has_time = false;  // it had a `time` of its own
  bool has_data = false;  // `data` is an object (not absent or null)
  const DataValue* values = nullptr;  // DataPaths::size() captures, by slot
  std::string_view raw;  // the event's JSON as received, for dead letters (see minified())
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

// `json` without insignificant whitespace: what dead letters keep.
std::string minified(std::string_view json);

class CloudEventDecoder {
 public:
  explicit CloudEventDecoder(const DataPaths& paths) : paths_(paths) {}

  // `padded`: the caller guarantees simdjson::SIMDJSON_PADDING readable bytes after the payload,
  // which spares a copy.
  void decode(std::string_view payload, bool padded, int64_t received_ms, EventSink& sink);

 private:
  // One event read from the document, before it is handed on.
  struct Decoded {
    CloudEvent event;
    std::string_view field;              // when invalid: the field at fault ("": the event)
    const char* reason = nullptr;        // why it is invalid; null when it is valid
    const char* start = nullptr;         // its first byte in the payload
  };

  // Reads every event of one JSON document into decoded_; an error when the JSON cannot be read.
  // `document`: the bytes read (a padded copy when `body` came without padding).
  simdjson::error_code read_document(std::string_view body, bool padded, int64_t received_ms,
                                     std::string_view* document, bool* is_array);
  simdjson::error_code read_event(simdjson::ondemand::object object, int64_t received_ms,
                                  Decoded* out);
  Decoded& next_decoded(const char* start);
  // Hands decoded_ to the sink, numbered from `first_index`; returns the next index.
  size_t emit(std::string_view document, bool is_array, size_t first_index, EventSink& sink);
  void decode_lines(std::string_view body, int64_t received_ms, EventSink& sink);
  const char* parse_time(std::string_view text, int64_t* time_ms);

  const DataPaths& paths_;
  simdjson::ondemand::parser parser_;
  std::vector<Decoded> decoded_;
  std::vector<DataValue> values_;  // paths_.size() per decoded event
  std::string padded_;             // a padded copy of a payload that came without padding
  std::string minified_;
  // Events of one payload mostly share a time: the last one parsed.
  std::string last_time_text_;
  int64_t last_time_ms_ = 0;
};

}  // namespace meterd

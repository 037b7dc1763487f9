// Test helper: what DataPaths captures from an event's data, as JSON text per path.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/cloudevent_decoder.h"
#include "agent/data_paths.h"

namespace meterd {

// A captured value as minified JSON ("<missing>" when the path found nothing).
inline std::string json_of(const DataValue& value) {
  switch (value.kind) {
    case DataValue::Kind::kMissing: return "<missing>";
    case DataValue::Kind::kNull: return "null";
    case DataValue::Kind::kString: return "\"" + std::string(value.text) + "\"";
    case DataValue::Kind::kBool: return value.boolean ? "true" : "false";
    case DataValue::Kind::kObject:
    case DataValue::Kind::kArray: return minified(value.text);
    default: return std::string(value.text);  // numbers as written
  }
}

// Registers `paths` (in order), decodes one event whose data is `data` and returns what each
// path captured.
inline std::vector<std::string> captured(const std::vector<std::string>& paths,
                                         const std::string& data) {
  DataPaths tree;
  std::vector<size_t> slots;
  for (const std::string& text : paths) {
    JsonPath path;
    std::string why;
    REQUIRE(JsonPath::compile(text, &path, &why));
    slots.push_back(tree.add(path));
  }
  struct Sink : EventSink {
    const std::vector<size_t>& slots;
    std::vector<std::string> found;
    explicit Sink(const std::vector<size_t>& s) : slots(s) {}
    void on_event(const CloudEvent& e) override {
      for (size_t slot : slots) found.push_back(json_of(e.values[slot]));
    }
    void on_invalid(size_t, std::string_view, std::string_view reason, std::string_view) override {
      FAIL(std::string(reason));
    }
  } sink(slots);
  CloudEventDecoder decoder(tree);
  decoder.decode(R"({"specversion":"1.0","id":"1","source":"s","type":"t","subject":"c","data":)" +
                     data + "}",
                 false, 0, sink);
  REQUIRE(sink.found.size() == paths.size());
  return sink.found;
}

}  // namespace meterd

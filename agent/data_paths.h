// DataPaths: every JSONPath into `data` that some meter reads, merged into one tree, so the
// decoder captures all of them in a single forward pass over each event's data.
//
// Built at start-up (each meter registers its valueProperty and groupBy paths and keeps the slot
// numbers it got back), then read-only. Paths shared by meters share a slot. capture() walks only
// the branches some path takes: a field no meter reads is skipped without being looked at.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/data_value.h"
#include "agent/json_path.h"

namespace meterd {

class DataPaths {
 public:
  DataPaths();

  // Registers `path` and returns its slot; the same path registered again returns the same slot.
  size_t add(const JsonPath& path);
  // Slots in use: capture() fills this many values.
  size_t size() const { return slots_; }

  // Walks `data` (an event's `data` value) and writes what each registered path finds into
  // `values[slot]`; the caller has set every slot to kMissing. A wrong type on the way (an index
  // into an object, say) leaves the slot missing; an error is returned only when the JSON itself
  // cannot be read further.
  simdjson::error_code capture(simdjson::ondemand::value data, DataValue* values) const;

 private:
  struct Node {
    std::string name;  // a field name, unless is_index
    size_t index = 0;
    bool is_index = false;
    int64_t slot = -1;  // the slot of the path ending here, or -1
    std::vector<uint32_t> children;
    bool has_named_children = false;
    bool has_index_children = false;
  };

  uint32_t child_of(uint32_t parent, const JsonPath::Step& step);
  simdjson::error_code visit(simdjson::ondemand::value value, const Node& node,
                             DataValue* values) const;
  simdjson::error_code visit_fields(simdjson::ondemand::object object, const Node& node,
                                    DataValue* values) const;
  simdjson::error_code visit_elements(simdjson::ondemand::array array, const Node& node,
                                      DataValue* values) const;

  std::vector<Node> nodes_;  // nodes_[0] is `$`, the data value itself
  size_t slots_ = 0;
};

}  // namespace meterd

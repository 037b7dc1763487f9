// The tree of data paths and its one-pass capture (see data_paths.h).
#include "agent/data_paths.h"

#include "agent/json_field_key.h"

namespace meterd {
namespace {

using simdjson::error_code;
using simdjson::ondemand::json_type;

std::string_view trim_back(std::string_view text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' ||
                           text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Reads a scalar, or an object or array as its raw JSON, into `out`.
error_code read_value(simdjson::ondemand::value value, json_type type, DataValue* out) {
  switch (type) {
    case json_type::string:
      out->kind = DataValue::Kind::kString;
      return value.get_string().get(out->text);
    case json_type::number: {
      out->text = trim_back(value.raw_json_token());
      simdjson::ondemand::number number;
      error_code error = value.get_number().get(number);
      if (error == simdjson::NUMBER_ERROR) {
        // simdjson reads nothing beyond a double or 64 bits: the meter says so, per event.
        out->kind = DataValue::Kind::kBadNumber;
        return simdjson::SUCCESS;
      }
      if (error) return error;
      switch (number.get_number_type()) {
        case simdjson::ondemand::number_type::signed_integer:
          out->kind = DataValue::Kind::kInteger;
          out->integer = number.get_int64();
          break;
        case simdjson::ondemand::number_type::unsigned_integer:
          out->kind = DataValue::Kind::kUnsigned;
          out->unsigned_integer = number.get_uint64();
          break;
        default:
          out->kind = DataValue::Kind::kDouble;
          out->number = number.get_double();
          break;
      }
      return simdjson::SUCCESS;
    }
    case json_type::boolean:
      out->kind = DataValue::Kind::kBool;
      return value.get_bool().get(out->boolean);
    case json_type::null: {
      bool is_null = false;
      if (error_code error = value.is_null().get(is_null)) return error;
      if (!is_null) return simdjson::N_ATOM_ERROR;
      out->kind = DataValue::Kind::kNull;
      return simdjson::SUCCESS;
    }
    case json_type::object: {
      simdjson::ondemand::object object;
      if (error_code error = value.get_object().get(object)) return error;
      out->kind = DataValue::Kind::kObject;
      if (error_code error = object.raw_json().get(out->text)) return error;
      out->text = trim_back(out->text);
      return simdjson::SUCCESS;
    }
    case json_type::array: {
      simdjson::ondemand::array array;
      if (error_code error = value.get_array().get(array)) return error;
      out->kind = DataValue::Kind::kArray;
      if (error_code error = array.raw_json().get(out->text)) return error;
      out->text = trim_back(out->text);
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

DataPaths::DataPaths() : nodes_(1) {}

uint32_t DataPaths::child_of(uint32_t parent, const JsonPath::Step& step) {
  for (uint32_t child : nodes_[parent].children) {
    const Node& node = nodes_[child];
    if (node.is_index == step.is_index &&
        (step.is_index ? node.index == step.index : node.name == step.name)) {
      return child;
    }
  }
  Node node;
  node.name = step.name;
  node.index = step.index;
  node.is_index = step.is_index;
  nodes_.push_back(std::move(node));
  auto child = static_cast<uint32_t>(nodes_.size() - 1);
  nodes_[parent].children.push_back(child);
  (step.is_index ? nodes_[parent].has_index_children : nodes_[parent].has_named_children) = true;
  return child;
}

size_t DataPaths::add(const JsonPath& path) {
  uint32_t at = 0;
  for (const JsonPath::Step& step : path.steps()) at = child_of(at, step);
  if (nodes_[at].slot < 0) nodes_[at].slot = static_cast<int64_t>(slots_++);
  return static_cast<size_t>(nodes_[at].slot);
}

error_code DataPaths::capture(simdjson::ondemand::value data, DataValue* values) const {
  return visit(data, nodes_[0], values);
}

error_code DataPaths::visit(simdjson::ondemand::value value, const Node& node,
                            DataValue* values) const {
  json_type type;
  if (error_code error = value.type().get(type)) return error;
  bool descends = (type == json_type::object && node.has_named_children) ||
                  (type == json_type::array && node.has_index_children);
  if (!descends) return node.slot < 0 ? simdjson::SUCCESS : read_value(value, type, &values[node.slot]);

  if (type == json_type::object) {
    simdjson::ondemand::object object;
    if (error_code error = value.get_object().get(object)) return error;
    if (node.slot >= 0) {
      // A path ends here and others go deeper ($.usage and $.usage.input): keep the raw JSON,
      // then walk the object again from its start.
      DataValue& out = values[node.slot];
      out.kind = DataValue::Kind::kObject;
      if (error_code error = object.raw_json().get(out.text)) return error;
      out.text = trim_back(out.text);
      if (error_code error = object.reset().error()) return error;
    }
    return visit_fields(object, node, values);
  }
  simdjson::ondemand::array array;
  if (error_code error = value.get_array().get(array)) return error;
  if (node.slot >= 0) {
    DataValue& out = values[node.slot];
    out.kind = DataValue::Kind::kArray;
    if (error_code error = array.raw_json().get(out.text)) return error;
    out.text = trim_back(out.text);
    if (error_code error = array.reset().error()) return error;
  }
  return visit_elements(array, node, values);
}

error_code DataPaths::visit_fields(simdjson::ondemand::object object, const Node& node,
                                   DataValue* values) const {
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    if (error_code error = std::move(field_result).get(field)) return error;
    std::string_view key;
    if (error_code error = json_field_key(field, &key)) return error;
    for (uint32_t child : node.children) {
      const Node& next = nodes_[child];
      if (next.is_index || next.name != key) continue;
      if (error_code error = visit(field.value(), next, values)) return error;
      break;
    }
  }
  return simdjson::SUCCESS;
}

error_code DataPaths::visit_elements(simdjson::ondemand::array array, const Node& node,
                                     DataValue* values) const {
  size_t index = 0;
  for (auto element_result : array) {
    simdjson::ondemand::value element;
    if (error_code error = std::move(element_result).get(element)) return error;
    for (uint32_t child : node.children) {
      const Node& next = nodes_[child];
      if (!next.is_index || next.index != index) continue;
      if (error_code error = visit(element, next, values)) return error;
      break;
    }
    ++index;
  }
  return simdjson::SUCCESS;
}

}  // namespace meterd

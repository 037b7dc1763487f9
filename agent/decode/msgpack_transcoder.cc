// msgpack → JSON with msgpack-cxx's unpacker (see msgpack_transcoder.h).
#include "agent/decode/msgpack_transcoder.h"

#include <msgpack.hpp>

#include <cmath>

#include <fmt/format.h>

#include "buffer/base/json_text.h"

namespace meterd {
namespace {

constexpr int kMaxDepth = 64;  // deeper nesting is refused, not recursed into

bool write_json(const msgpack::object& object, int depth, std::string* out, std::string* error) {
  if (depth > kMaxDepth) {
    *error = "nested too deeply";
    return false;
  }
  switch (object.type) {
    case msgpack::type::NIL:
      out->append("null");
      return true;
    case msgpack::type::BOOLEAN:
      out->append(object.via.boolean ? "true" : "false");
      return true;
    case msgpack::type::POSITIVE_INTEGER:
      fmt::format_to(std::back_inserter(*out), "{}", object.via.u64);
      return true;
    case msgpack::type::NEGATIVE_INTEGER:
      fmt::format_to(std::back_inserter(*out), "{}", object.via.i64);
      return true;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      if (!std::isfinite(object.via.f64)) {
        *error = "non-finite float";
        return false;
      }
      fmt::format_to(std::back_inserter(*out), "{}", object.via.f64);
      return true;
    case msgpack::type::STR:
      append_json_string(out, std::string_view(object.via.str.ptr, object.via.str.size));
      return true;
    case msgpack::type::ARRAY:
      out->push_back('[');
      for (uint32_t i = 0; i < object.via.array.size; ++i) {
        if (i) out->push_back(',');
        if (!write_json(object.via.array.ptr[i], depth + 1, out, error)) return false;
      }
      out->push_back(']');
      return true;
    case msgpack::type::MAP:
      out->push_back('{');
      for (uint32_t i = 0; i < object.via.map.size; ++i) {
        const msgpack::object_kv& kv = object.via.map.ptr[i];
        if (kv.key.type != msgpack::type::STR) {
          *error = "map keys must be strings";
          return false;
        }
        if (i) out->push_back(',');
        append_json_string(out, std::string_view(kv.key.via.str.ptr, kv.key.via.str.size));
        out->push_back(':');
        if (!write_json(kv.val, depth + 1, out, error)) return false;
      }
      out->push_back('}');
      return true;
    default:
      *error = "binary and extension values are not supported";
      return false;
  }
}

}  // namespace

bool looks_like_msgpack(std::string_view payload) {
  if (payload.empty()) return false;
  auto first = static_cast<unsigned char>(payload[0]);
  return (first >= 0x80 && first <= 0x9f) || first == 0xdc || first == 0xdd || first == 0xde ||
         first == 0xdf;
}

bool msgpack_to_json(std::string_view payload, std::string* json, std::string* error) {
  json->clear();
  std::vector<std::string> objects;
  size_t offset = 0;
  try {
    while (offset < payload.size()) {
      msgpack::object_handle handle = msgpack::unpack(payload.data(), payload.size(), offset);
      std::string text;
      if (!write_json(handle.get(), 0, &text, error)) return false;
      objects.push_back(std::move(text));
    }
  } catch (const std::exception& e) {
    *error = fmt::format("invalid msgpack at byte {}: {}", offset, e.what());
    return false;
  }
  if (objects.size() == 1) {
    *json = std::move(objects[0]);
    return true;
  }
  json->push_back('[');
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i) json->push_back(',');
    json->append(objects[i]);
  }
  json->push_back(']');
  return true;
}

}  // namespace meterd

// Event text for the load generator (see event_source.h). Written with hand-rolled appends
// rather than a JSON library: the sender must be far cheaper than the agent it measures.
#include "tests/bench/event_source.h"

#include <charconv>
#include <ctime>

namespace meterd::bench {
namespace {

void append_int(std::string* out, int64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  out->append(digits, end);
}

// msgpack: fixstr (< 32 bytes) or str8, fixmap, positive int as uint32.
void pack_str(std::string* out, std::string_view text) {
  if (text.size() < 32) {
    out->push_back(static_cast<char>(0xa0 | text.size()));
  } else {
    out->push_back(static_cast<char>(0xd9));
    out->push_back(static_cast<char>(text.size()));
  }
  out->append(text);
}

void pack_uint(std::string* out, uint32_t value) {
  out->push_back(static_cast<char>(0xce));
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

}  // namespace

std::string rfc3339_ms(int64_t time_ms) {
  time_t seconds = time_ms / 1000;
  tm utc;
  gmtime_r(&seconds, &utc);
  char text[32];
  strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::string out(text);
  char millis[8];
  snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(time_ms % 1000));
  return out + millis;
}

int64_t EventSource::tokens_of(int64_t index) {
  uint64_t x = static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull;  // a cheap, fixed mix
  x ^= x >> 29;
  return 1 + static_cast<int64_t>(x % 5000);
}

void EventSource::append_event(int64_t index, int64_t time_ms, std::string* out) const {
  std::string time = rfc3339_ms(time_ms);
  if (format_ == Format::kJson) append_json(index, time, out);
  else append_msgpack(index, time, out);
}

void EventSource::append_payload(int64_t first, int64_t count, int64_t time_ms,
                                 std::string* out) const {
  std::string time = rfc3339_ms(time_ms);
  if (format_ == Format::kMsgpack) {
    for (int64_t i = first; i < first + count; ++i) append_msgpack(i, time, out);
    return;
  }
  if (count == 1) return append_json(first, time, out);
  out->push_back('[');
  for (int64_t i = first; i < first + count; ++i) {
    if (i != first) out->push_back(',');
    append_json(i, time, out);
  }
  out->push_back(']');
}

void EventSource::append_json(int64_t index, std::string_view time, std::string* out) const {
  out->append(R"({"specversion":"1.0","id":")");
  out->append(shape_.run_id);
  out->push_back('-');
  append_int(out, index);
  out->append(R"(","source":"bench","type":"prompt","subject":"customer-)");
  append_int(out, subject_of(index));
  out->append(R"(","time":")");
  out->append(time);
  out->append(R"(","data":{"tokens":)");
  append_int(out, tokens_of(index));
  out->append(R"(,"model":"model-)");
  append_int(out, group_of(index));
  out->append(index % 2 ? R"(","region":"eu"}})" : R"(","region":"us"}})");
}

void EventSource::append_msgpack(int64_t index, std::string_view time, std::string* out) const {
  std::string text;
  out->push_back(static_cast<char>(0x87));  // 7 fields
  pack_str(out, "specversion");
  pack_str(out, "1.0");
  pack_str(out, "id");
  text = shape_.run_id + "-";
  append_int(&text, index);
  pack_str(out, text);
  pack_str(out, "source");
  pack_str(out, "bench");
  pack_str(out, "type");
  pack_str(out, "prompt");
  pack_str(out, "subject");
  text = "customer-";
  append_int(&text, subject_of(index));
  pack_str(out, text);
  pack_str(out, "time");
  pack_str(out, time);
  pack_str(out, "data");
  out->push_back(static_cast<char>(0x83));  // 3 fields
  pack_str(out, "tokens");
  pack_uint(out, static_cast<uint32_t>(tokens_of(index)));
  pack_str(out, "model");
  text = "model-";
  append_int(&text, group_of(index));
  pack_str(out, text);
  pack_str(out, "region");
  pack_str(out, index % 2 ? "eu" : "us");
}

}  // namespace meterd::bench

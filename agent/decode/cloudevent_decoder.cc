// CloudEvents JSON decoding with simdjson's DOM parser (one parser reused, so steady-state
// decoding allocates nothing). See cloudevent_decoder.h for the accepted forms.
//
// The DOM rather than On-Demand: every field of a small event is read (the envelope and the
// meters' paths), so On-Demand skips nothing, and its per-token iteration costs more than
// walking the DOM's tape (compare the two on tests/bench/ingest_cpu before changing this).
#include "agent/decode/cloudevent_decoder.h"

#include <cstring>

#include "agent/decode/rfc3339.h"
#include "buffer/base/same_text.h"

namespace meterd {
namespace {

// std::isspace of the C locale, inline: a call into libc for each end of every datagram showed
// in the single-event profile.
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The fields an event is checked for, found in one pass over its keys (simdjson's at_key scans
// the object anew for every lookup, seven scans per event on the hot path).
struct Fields {
  simdjson::dom::element specversion, id, source, type, subject, time, data;
  bool has_specversion = false, has_id = false, has_source = false, has_type = false,
       has_subject = false, has_time = false, has_data = false;
};

// `text` is `literal`: a compare of constant size, which the compiler inlines instead of calling
// memcmp as string_view's == does.
template <size_t N>
bool equals_literal(std::string_view text, const char (&literal)[N]) {
  return text.size() == N - 1 && std::memcmp(text.data(), literal, N - 1) == 0;
}

void collect_fields(simdjson::dom::object object, Fields* f) {
  for (auto [key, value] : object) {
    // Dispatch on length first: one integer compare rejects most keys.
    switch (key.size()) {
      case 2:
        if (equals_literal(key, "id")) f->id = value, f->has_id = true;
        break;
      case 4:
        if (equals_literal(key, "type")) f->type = value, f->has_type = true;
        else if (equals_literal(key, "time")) f->time = value, f->has_time = true;
        else if (equals_literal(key, "data")) f->data = value, f->has_data = true;
        break;
      case 6:
        if (equals_literal(key, "source")) f->source = value, f->has_source = true;
        break;
      case 7:
        if (equals_literal(key, "subject")) f->subject = value, f->has_subject = true;
        break;
      case 11:
        if (equals_literal(key, "specversion")) f->specversion = value, f->has_specversion = true;
        break;
      default:
        break;
    }
  }
}

// Reads a required non-empty string field; returns the reason when it is not one.
inline const char* required_string(bool present, simdjson::dom::element value,
                                   std::string_view* out) {
  if (!present) return "required";
  if (value.get_string().get(*out)) return "must be a string";
  if (out->empty()) return "must not be empty";
  return nullptr;
}

// simdjson's words, except for numbers: a bare JSON number beyond the double range (1e400) or
// an integer beyond 64 bits fails the whole document's parse, and the user needs to know which.
std::string parse_error_reason(simdjson::error_code error) {
  if (error == simdjson::NUMBER_ERROR) {
    return "invalid JSON: a number is malformed or out of range (beyond ±1.8e308, or an integer "
           "beyond 64 bits; send it as a string to get a per-meter reason)";
  }
  return std::string("invalid JSON: ") + simdjson::error_message(error);
}

}  // namespace

void CloudEventDecoder::decode(std::string_view payload, bool padded, int64_t received_ms,
                               EventSink& sink) {
  std::string_view body = trim(payload);
  if (body.empty()) {
    sink.on_invalid(0, "", "empty payload", payload);
    return;
  }
  simdjson::dom::element root;
  auto error = parser_.parse(body.data(), body.size(), !padded).get(root);
  if (error) {
    // Not one JSON document: newline-separated events, or garbage. Line by line tells which.
    if (body.find('\n') != std::string_view::npos) {
      decode_lines(body, received_ms, sink);
    } else {
      sink.on_invalid(0, "", parse_error_reason(error), body);
    }
    return;
  }
  simdjson::dom::array array;
  if (root.get_array().get(array) == simdjson::SUCCESS) {
    size_t index = 0;
    for (simdjson::dom::element element : array) {
      decode_element(element, index++, received_ms, sink);
    }
    return;
  }
  decode_element(root, 0, received_ms, sink);
}

void CloudEventDecoder::decode_lines(std::string_view body, int64_t received_ms, EventSink& sink) {
  size_t index = 0;
  while (!body.empty()) {
    size_t end = body.find('\n');
    std::string_view line = trim(body.substr(0, end));
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (line.empty()) continue;
    simdjson::dom::element element;
    // A line inside the payload is not padded: let simdjson copy it.
    if (auto error = parser_.parse(line.data(), line.size(), true).get(element)) {
      sink.on_invalid(index++, "", parse_error_reason(error), line);
      continue;
    }
    decode_element(element, index++, received_ms, sink);
  }
}

void CloudEventDecoder::decode_element(simdjson::dom::element element, size_t index,
                                       int64_t received_ms, EventSink& sink) {
  auto invalid = [&](std::string_view field, std::string_view reason) {
    minified_ = simdjson::minify(element);
    sink.on_invalid(index, field, reason, minified_);
  };
  simdjson::dom::object object;
  if (element.get_object().get(object)) return invalid("", "an event must be a JSON object");

  Fields fields;
  collect_fields(object, &fields);
  CloudEvent event;
  event.element = element;
  std::string_view specversion;
  if (const char* why = required_string(fields.has_specversion, fields.specversion, &specversion)) {
    return invalid("specversion", why);
  }
  if (!equals_literal(specversion, "1.0")) return invalid("specversion", "must be \"1.0\"");
  if (const char* why = required_string(fields.has_id, fields.id, &event.id)) {
    return invalid("id", why);
  }
  if (const char* why = required_string(fields.has_source, fields.source, &event.source)) {
    return invalid("source", why);
  }
  if (const char* why = required_string(fields.has_type, fields.type, &event.type)) {
    return invalid("type", why);
  }
  if (const char* why = required_string(fields.has_subject, fields.subject, &event.subject)) {
    return invalid("subject", why);
  }

  event.time_ms = received_ms;
  if (fields.has_time && !fields.time.is_null()) {
    std::string_view text;
    if (fields.time.get_string().get(text)) return invalid("time", "must be an RFC 3339 string");
    if (!parse_time(text, &event.time_ms)) return invalid("time", "not an RFC 3339 timestamp");
    event.has_time = true;
  }

  if (fields.has_data && !fields.data.is_null()) {
    if (!fields.data.is_object()) return invalid("data", "must be a JSON object");
    event.data = fields.data;
    event.has_data = true;
  }
  sink.on_event(event);
}

bool CloudEventDecoder::parse_time(std::string_view text, int64_t* time_ms) {
  // Events of one payload mostly share a time: the last one parsed is kept.
  if (!text.empty() && same_text(text, last_time_text_)) {
    *time_ms = last_time_ms_;
    return true;
  }
  if (!parse_rfc3339_ms(text, time_ms)) return false;
  last_time_text_.assign(text);
  last_time_ms_ = *time_ms;
  return true;
}

}  // namespace meterd

// CloudEvents JSON decoding with simdjson On-Demand (one parser reused, so steady-state decoding
// allocates nothing). See cloudevent_decoder.h for the accepted forms.
//
// Why On-Demand rather than the DOM: the DOM builds a tape of every value of the payload, and
// meters then looked their paths up in it; building the tape was a quarter of the ingest
// thread's time at 20 events per datagram. Here the envelope's fields and the meters' paths
// (DataPaths) are read in one forward pass and everything else is skipped.
//
// Two phases per document: every event is read into decoded_ first, and only a document read to
// its end is handed to the sink, so JSON that breaks halfway is refused whole, as the DOM did;
// and the text of each event for its dead letter is the span between its first byte and the
// next event's.
#include "agent/cloudevent_decoder.h"

#include <algorithm>
#include <cctype>

#include "agent/json_field_key.h"
#include "agent/rfc3339.h"

namespace meterd {
namespace {

using simdjson::error_code;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

std::string parse_error_reason(error_code error) {
  return std::string("invalid JSON: ") + simdjson::error_message(error);
}

// An envelope field as found: absent, a string, null, or some other JSON type.
struct TextField {
  enum class State : uint8_t { kAbsent, kString, kNull, kOther } state = State::kAbsent;
  std::string_view text;
};

error_code read_text(simdjson::ondemand::value value, TextField* out) {
  error_code error = value.get_string().get(out->text);
  if (error == simdjson::SUCCESS) {
    out->state = TextField::State::kString;
    return simdjson::SUCCESS;
  }
  if (error != simdjson::INCORRECT_TYPE) return error;
  bool is_null = false;
  if (error_code null_error = value.is_null().get(is_null)) return null_error;
  out->state = is_null ? TextField::State::kNull : TextField::State::kOther;
  return simdjson::SUCCESS;
}

// Why a required non-empty string field is not one, or null when it is.
const char* required_string(const TextField& field) {
  switch (field.state) {
    case TextField::State::kAbsent: return "required";
    case TextField::State::kString: return field.text.empty() ? "must not be empty" : nullptr;
    default: return "must be a string";
  }
}

// Reads a document's root scalar only to see whether it is valid JSON.
error_code read_root_scalar(simdjson::ondemand::document& doc, simdjson::ondemand::json_type type) {
  using simdjson::ondemand::json_type;
  switch (type) {
    case json_type::string: return doc.get_string().error();
    case json_type::number: return doc.get_number().error();
    case json_type::boolean: return doc.get_bool().error();
    default: {
      bool is_null = false;
      if (error_code error = doc.is_null().get(is_null)) return error;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
}

}  // namespace

std::string minified(std::string_view json) {
  std::string out(json.size(), '\0');
  size_t length = 0;
  if (simdjson::minify(json.data(), json.size(), out.data(), length)) return std::string(json);
  out.resize(length);
  return out;
}

void CloudEventDecoder::decode(std::string_view payload, bool padded, int64_t received_ms,
                               EventSink& sink) {
  std::string_view body = trim(payload);
  if (body.empty()) {
    sink.on_invalid(0, "", "empty payload", payload);
    return;
  }
  std::string_view document;
  bool is_array = false;
  if (error_code error = read_document(body, padded, received_ms, &document, &is_array)) {
    // Not one JSON document: newline-separated events, or garbage. Line by line tells which.
    if (body.find('\n') != std::string_view::npos) {
      decode_lines(body, received_ms, sink);
    } else {
      sink.on_invalid(0, "", parse_error_reason(error), body);
    }
    return;
  }
  emit(document, is_array, 0, sink);
}

void CloudEventDecoder::decode_lines(std::string_view body, int64_t received_ms, EventSink& sink) {
  size_t index = 0;
  while (!body.empty()) {
    size_t end = body.find('\n');
    std::string_view line = trim(body.substr(0, end));
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    if (line.empty()) continue;
    std::string_view document;
    bool is_array = false;
    // A line inside the payload is not padded: it is copied.
    if (error_code error = read_document(line, false, received_ms, &document, &is_array)) {
      sink.on_invalid(index++, "", parse_error_reason(error), line);
      continue;
    }
    index = emit(document, is_array, index, sink);
  }
}

error_code CloudEventDecoder::read_document(std::string_view body, bool padded, int64_t received_ms,
                                            std::string_view* document, bool* is_array) {
  decoded_.clear();
  values_.clear();
  if (!padded) {
    padded_.assign(body);
    padded_.resize(body.size() + simdjson::SIMDJSON_PADDING, ' ');
    body = std::string_view(padded_.data(), body.size());
  }
  *document = body;
  simdjson::ondemand::document doc;
  error_code error = parser_.iterate(simdjson::padded_string_view(
                                         body.data(), body.size(),
                                         body.size() + simdjson::SIMDJSON_PADDING))
                         .get(doc);
  if (error) return error;
  simdjson::ondemand::json_type type;
  if ((error = doc.type().get(type))) return error;

  if (type == simdjson::ondemand::json_type::array) {
    *is_array = true;
    simdjson::ondemand::array array;
    if ((error = doc.get_array().get(array))) return error;
    for (auto element_result : array) {
      simdjson::ondemand::value element;
      if ((error = std::move(element_result).get(element))) return error;
      Decoded& decoded = next_decoded(element.raw_json_token().data());
      simdjson::ondemand::object object;
      error = element.get_object().get(object);
      if (error == simdjson::INCORRECT_TYPE) {
        decoded.reason = "an event must be a JSON object";
        continue;
      }
      if (error || (error = read_event(object, received_ms, &decoded))) return error;
    }
  } else if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object object;
    if ((error = doc.get_object().get(object)) ||
        (error = read_event(object, received_ms, &next_decoded(body.data())))) {
      return error;
    }
  } else {
    // A lone scalar: read it, so that text which is not JSON at all is called so.
    if ((error = read_root_scalar(doc, type))) return error;
    next_decoded(body.data()).reason = "an event must be a JSON object";
  }
  // Anything after the document (a second document) makes it unreadable as one.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) return simdjson::TRAILING_CONTENT;
  return simdjson::SUCCESS;
}

CloudEventDecoder::Decoded& CloudEventDecoder::next_decoded(const char* start) {
  Decoded& decoded = decoded_.emplace_back();
  decoded.start = start;
  values_.resize(decoded_.size() * paths_.size());  // new slots start as kMissing
  return decoded;
}

error_code CloudEventDecoder::read_event(simdjson::ondemand::object object, int64_t received_ms,
                                         Decoded* out) {
  TextField specversion, id, source, type, subject, time;
  enum class Data : uint8_t { kAbsent, kObject, kOther } data = Data::kAbsent;
  DataValue* values = values_.data() + (decoded_.size() - 1) * paths_.size();
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (error_code error = std::move(field_result).get(field)) return error;
    if (error_code error = json_field_key(field, &key)) return error;
    TextField* text = nullptr;
    // Dispatch on length first: one integer compare rejects most keys.
    switch (key.size()) {
      case 2: if (key == "id") text = &id; break;
      case 4:
        if (key == "type") {
          text = &type;
        } else if (key == "time") {
          text = &time;
        } else if (key == "data") {
          simdjson::ondemand::value value = field.value();
          simdjson::ondemand::json_type json_type;
          if (error_code error = value.type().get(json_type)) return error;
          std::fill(values, values + paths_.size(), DataValue{});  // a repeated `data` wins
          if (json_type == simdjson::ondemand::json_type::object) {
            data = Data::kObject;
            if (error_code error = paths_.capture(value, values)) return error;
          } else {
            bool is_null = false;
            if (error_code error = value.is_null().get(is_null)) return error;
            data = is_null ? Data::kAbsent : Data::kOther;
          }
        }
        break;
      case 6: if (key == "source") text = &source; break;
      case 7: if (key == "subject") text = &subject; break;
      case 11: if (key == "specversion") text = &specversion; break;
      default: break;
    }
    if (text) {
      if (error_code error = read_text(field.value(), text)) return error;
    }
  }

  auto invalid = [out](std::string_view field, const char* reason) {
    out->field = field;
    out->reason = reason;
    return simdjson::SUCCESS;
  };
  CloudEvent& event = out->event;
  if (const char* why = required_string(specversion)) return invalid("specversion", why);
  if (specversion.text != "1.0") return invalid("specversion", "must be \"1.0\"");
  if (const char* why = required_string(id)) return invalid("id", why);
  if (const char* why = required_string(source)) return invalid("source", why);
  if (const char* why = required_string(type)) return invalid("type", why);
  if (const char* why = required_string(subject)) return invalid("subject", why);
  event.id = id.text;
  event.source = source.text;
  event.type = type.text;
  event.subject = subject.text;

  event.time_ms = received_ms;
  if (time.state == TextField::State::kOther) return invalid("time", "must be an RFC 3339 string");
  if (time.state == TextField::State::kString) {
    if (const char* why = parse_time(time.text, &event.time_ms)) return invalid("time", why);
    event.has_time = true;
  }
  if (data == Data::kOther) return invalid("data", "must be a JSON object");
  event.has_data = data == Data::kObject;
  return simdjson::SUCCESS;
}

const char* CloudEventDecoder::parse_time(std::string_view text, int64_t* time_ms) {
  if (!text.empty() && text == last_time_text_) {
    *time_ms = last_time_ms_;
    return nullptr;
  }
  if (!parse_rfc3339_ms(text, time_ms)) return "not an RFC 3339 timestamp";
  last_time_text_.assign(text);
  last_time_ms_ = *time_ms;
  return nullptr;
}

size_t CloudEventDecoder::emit(std::string_view document, bool is_array, size_t first_index,
                               EventSink& sink) {
  // An array's last event ends before its closing bracket.
  const char* document_end = document.data() + document.size() - (is_array ? 1 : 0);
  for (size_t k = 0; k < decoded_.size(); ++k) {
    Decoded& decoded = decoded_[k];
    bool last = k + 1 == decoded_.size();
    const char* end = last ? document_end : decoded_[k + 1].start;
    std::string_view raw = trim(std::string_view(decoded.start, static_cast<size_t>(end - decoded.start)));
    if (!last && !raw.empty() && raw.back() == ',') raw = trim(raw.substr(0, raw.size() - 1));
    if (decoded.reason) {
      minified_ = minified(raw);
      sink.on_invalid(first_index + k, decoded.field, decoded.reason, minified_);
      continue;
    }
    decoded.event.values = values_.data() + k * paths_.size();
    decoded.event.raw = raw;
    sink.on_event(decoded.event);
  }
  return first_index + decoded_.size();
}

}  // namespace meterd

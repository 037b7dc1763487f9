// Reading the /status document (see status_doc.h) with simdjson's DOM: the document is a few
// kilobytes read once a second, so convenience beats the On-Demand API's speed here.
#include "agent/ctl/status_doc.h"

#include <simdjson.h>

#include <limits>

namespace meterd {
namespace {

namespace dom = simdjson::dom;

// Reads values by JSON pointer and remembers the first one that is missing or mistyped.
class Reader {
 public:
  explicit Reader(dom::element root) : root_(root) {}

  void integer(const char* pointer, int64_t* out) { to_integer(at(pointer), pointer, out); }
  void number(const char* pointer, double* out) {
    dom::element e = at(pointer);
    if (e.is_number()) {
      *out = e.get_double().value_unsafe();
    } else if (!e.is_null()) {
      mistyped(pointer);
    }
  }
  void boolean(const char* pointer, bool* out) {
    if (dom::element e = at(pointer); e.is_bool()) *out = e.get_bool().value_unsafe();
    else mistyped(pointer);
  }
  void text(const char* pointer, std::string* out) {
    dom::element e = at(pointer);
    if (e.is_string()) *out = std::string(e.get_string().value_unsafe());
    else mistyped(pointer);
  }
  // An object member; an empty object (and the error remembered) when it is not one.
  dom::object object(const char* pointer) {
    dom::element e = at(pointer);
    if (e.is_object()) return e.get_object().value_unsafe();
    mistyped(pointer);
    return empty_object();
  }
  void to_integer(dom::element e, std::string_view name, int64_t* out) {
    if (e.is_int64()) {
      *out = e.get_int64().value_unsafe();
    } else if (e.is_uint64()) {
      *out = std::numeric_limits<int64_t>::max();
    } else if (e.is_double()) {
      *out = static_cast<int64_t>(e.get_double().value_unsafe());
    } else {
      mistyped(name);
    }
  }
  Status status() const {
    if (first_error_.empty()) return Status::ok();
    return Status::error("not meterd's: " + first_error_);
  }

 private:
  // A missing member reads as null, which no typed reader accepts.
  dom::element at(const char* pointer) {
    dom::element e;
    if (root_.at_pointer(pointer).get(e) != simdjson::SUCCESS) {
      if (first_error_.empty()) first_error_ = std::string(pointer) + " is missing";
      return null_element();
    }
    return e;
  }
  void mistyped(std::string_view name) {
    if (first_error_.empty()) first_error_ = std::string(name) + " has the wrong type";
  }
  static dom::element null_element() {
    static dom::parser parser;
    static dom::element null = parser.parse("null", 4).value_unsafe();
    return null;
  }
  static dom::object empty_object() {
    static dom::parser parser;
    static dom::object empty = parser.parse("{}", 2).get_object().value_unsafe();
    return empty;
  }

  dom::element root_;
  std::string first_error_;
};

void read_events(Reader& r, StatusDoc* out) {
  dom::object received = r.object("/events/received");
  dom::object accepted = r.object("/events/accepted");
  dom::object rejected = r.object("/events/rejected");
  out->transports.clear();
  for (auto [key, value] : received) {
    TransportCounts counts;
    counts.name = std::string(key);
    r.to_integer(value, "/events/received", &counts.received);
    dom::element e;
    if (accepted[key].get(e) == simdjson::SUCCESS) {
      r.to_integer(e, "/events/accepted", &counts.accepted);
    }
    dom::object reasons;
    if (rejected[key].get(reasons) == simdjson::SUCCESS) {
      for (auto [reason, count] : reasons) {
        int64_t n = 0;
        r.to_integer(count, "/events/rejected", &n);
        counts.rejected += n;
      }
    }
    out->transports.push_back(std::move(counts));
  }
  r.integer("/events/deduplicated", &out->deduplicated);
}

void read_buffer(Reader& r, StatusDoc* out) {
  r.integer("/buffer/size_bytes", &out->buffer_bytes);
  r.integer("/buffer/limit_bytes", &out->buffer_limit_bytes);
  r.integer("/buffer/outbox_records", &out->outbox_records);
  r.number("/buffer/outbox_oldest_age_seconds", &out->outbox_oldest_age_seconds);
  r.integer("/buffer/open_windows", &out->open_windows);
  r.integer("/buffer/dead_letters", &out->dead_letters);
  r.integer("/buffer/dead_letters_evicted", &out->dead_letters_evicted);
  out->dead_letters_by_reason.clear();
  for (auto [reason, count] : r.object("/buffer/dead_letters_by_reason")) {
    int64_t n = 0;
    r.to_integer(count, "/buffer/dead_letters_by_reason", &n);
    out->dead_letters_by_reason.emplace_back(std::string(reason), n);
  }
}

void read_uplink(Reader& r, StatusDoc* out) {
  r.integer("/commit/count", &out->commit_count);
  r.number("/commit/seconds_sum", &out->commit_seconds_sum);
  r.integer("/commit/failures", &out->commit_failures);
  r.integer("/uplink/records_produced", &out->records_produced);
  r.integer("/uplink/records_delivered", &out->records_delivered);
  r.integer("/uplink/delivery_errors", &out->delivery_errors);
  r.integer("/uplink/delivery_latency/count", &out->delivery_latency_count);
  r.number("/uplink/delivery_latency/seconds_sum", &out->delivery_latency_seconds_sum);
  r.integer("/uplink/last_delivery_unix_ms", &out->last_delivery_unix_ms);
  r.text("/uplink/last_error", &out->last_error);
}

}  // namespace

Status parse_status(std::string_view json, StatusDoc* out) {
  dom::parser parser;
  dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error) {
    return Status::error(std::string("not JSON: ") + simdjson::error_message(error));
  }
  if (!root.is_object()) return Status::error("not meterd's: not a JSON object");
  Reader r(root);
  r.text("/version", &out->version);
  r.text("/agent_id", &out->agent_id);
  r.text("/state", &out->state);
  r.number("/uptime_seconds", &out->uptime_seconds);
  r.boolean("/health/healthy", &out->healthy);
  r.text("/health/reason", &out->health_reason);
  r.boolean("/health/broker_connected", &out->broker_connected);
  r.boolean("/ready/ready", &out->ready);
  r.text("/ready/reason", &out->ready_reason);
  read_events(r, out);
  read_buffer(r, out);
  read_uplink(r, out);
  // Not in the contract's list: meterd adds it when its own read of the buffer failed.
  if (dom::element e; root.at_pointer("/buffer/error").get(e) == simdjson::SUCCESS &&
                      e.is_string()) {
    out->buffer_error = std::string(e.get_string().value_unsafe());
  }
  return r.status();
}

}  // namespace meterd

// PayloadSink: the seam between the transports and the ingest pipeline. A listener hands each
// payload it received (a datagram, a stream line, an HTTP body) to the one sink, and for the
// acknowledged transports gets back per-event errors and the generation after whose commit the
// payload is durable (durability.h). Kept apart from ingest.h so that the transports compile
// without SQLite, simdjson or the meters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meterd {

// Readable bytes a transport keeps after a payload it marks `padded`, so the decoder parses it
// in place (simdjson reads up to this far past the end; ingest.cc checks the two agree).
inline constexpr size_t kPayloadPadding = 64;

struct Payload {
  std::string_view bytes;
  bool padded = false;  // kPayloadPadding readable bytes follow `bytes`
  std::string_view listener;
  int64_t received_ms = 0;
  bool acknowledged = false;  // deduplicate by (source, id, time); report invalid events
};

struct EventError {
  size_t index = 0;  // position of the event in its payload
  std::string field;
  std::string reason;
};

struct AcceptResult {
  size_t events = 0;  // events seen, valid or not
  std::vector<EventError> errors;
  uint64_t generation = 0;  // durable once this generation is committed
};

// The seam every transport feeds.
class PayloadSink {
 public:
  virtual ~PayloadSink() = default;
  // `result` may be null when the transport reports nothing back.
  virtual void accept(const Payload& payload, AcceptResult* result) = 0;
  // Records a payload that cannot be read at all (too large, say) as one dead letter.
  virtual void reject_payload(const Payload& payload, std::string reason) = 0;
};

}  // namespace meterd

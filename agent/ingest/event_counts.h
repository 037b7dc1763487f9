// The bounded label sets the operator sees events counted by — the transport an event came in on
// and the reason it was refused — and the ingest thread's counters over them.
//
// Metrics labels must come from small fixed sets (a label per reason text would make a series
// per malformed event), so every refusal is classed into one RejectReason, and a dead letter
// carries the same code (DeadLetter::reason_code). The counters are plain integers: only the
// ingest thread writes them, once per event, and the hand-over timer publishes a copy once a
// commit interval (the per-event path takes no atomic and no lock).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meterd {

enum class Transport : uint8_t { kUdp, kUnixDatagram, kUnixStream, kHttp };
inline constexpr size_t kTransports = 4;
inline constexpr std::array<std::string_view, kTransports> kTransportNames = {
    "udp", "unix_datagram", "unix_stream", "http"};

// The transport a listener name (Payload::listener) stands for; names the listeners do not use
// (a test's or a benchmark's) count as UDP. By length: one comparison a payload.
inline Transport transport_of(std::string_view listener) {
  switch (listener.size()) {
    case 13: return Transport::kUnixDatagram;
    case 11: return Transport::kUnixStream;
    case 4: return Transport::kHttp;
    default: return Transport::kUdp;
  }
}

enum class RejectReason : uint8_t {
  kInvalid,      // not a CloudEvent meterd can read (JSON, msgpack, envelope, identity size)
  kValue,        // a meter's value missing, not a number, or a sum that would leave the doubles
  kLate,         // older than windows.max_lateness
  kFuture,       // further ahead than windows.max_future
  kCardinality,  // a meter's series bound for the window is reached
  kBufferFull,   // the buffer is at buffer.max_size (or commits keep failing): not stored
  kOversized,    // a datagram, stream line or HTTP body over its size limit
};
inline constexpr size_t kRejectReasons = 7;
inline constexpr std::array<std::string_view, kRejectReasons> kRejectReasonNames = {
    "invalid", "value", "late", "future", "cardinality", "buffer_full", "oversized"};

inline std::string_view name_of(RejectReason reason) {
  return kRejectReasonNames[static_cast<size_t>(reason)];
}

struct TransportCounts {
  int64_t received = 0;  // events seen, valid or not (an unreadable payload counts one)
  std::array<int64_t, kRejectReasons> rejected{};  // refused by ingest, by reason
};

struct IngestCounters {
  std::array<TransportCounts, kTransports> transports{};
  int64_t events_accepted = 0;   // taken by every meter of their type
  int64_t events_unmatched = 0;  // valid, but no meter has their type
  int64_t events_rejected = 0;   // became dead letters (once an event)
  // Of the dead letters: refused by a meter's series limit (one per refusing meter).
  int64_t events_over_cardinality = 0;
};

// What the hand-over timer publishes once a commit interval: the counters and when it ticked
// (the admin listener's health check watches the ingest loop by it).
struct IngestSnapshot {
  IngestCounters counters;
  int64_t tick_steady_ms = 0;  // steady_clock_ms
};

}  // namespace meterd

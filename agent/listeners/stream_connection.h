// StreamConnection: one client of the Unix stream listener (see unix_stream_listener.h and
// agent/PROTOCOL.md). Owned by shared pointers held by its pending asynchronous operations.
#pragma once

#include <boost/asio/local/stream_protocol.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "agent/ingest/durability.h"
#include "agent/ingest/payload_sink.h"

namespace meterd {

class StreamConnection : public std::enable_shared_from_this<StreamConnection> {
 public:
  StreamConnection(boost::asio::local::stream_protocol::socket socket, PayloadSink& sink,
                   Durability& durability, int64_t max_line_bytes);
  void start() { read_more(); }
  // Stops reading; what was read is still acknowledged, then the connection closes.
  void stop_reading();

 private:
  void read_more();
  void handle_bytes(std::string_view bytes);
  // `line` must be followed by kPayloadPadding readable bytes.
  void handle_line(std::string_view line);
  void settle_through(uint64_t generation, bool durable);
  void send(std::string text);
  void write_next();
  void close_when_settled();

  boost::asio::local::stream_protocol::socket socket_;
  PayloadSink& sink_;
  Durability& durability_;
  const int64_t max_line_bytes_;
  // Reads fill kReadSize bytes; the rest is simdjson's padding, so a line decoded in place
  // needs no padded copy (simdjson copies an unpadded input into a fresh allocation).
  static constexpr size_t kReadSize = 64 * 1024;
  char read_buffer_[kReadSize + kPayloadPadding];
  std::string partial_line_;  // its capacity is kept padded too
  bool discarding_ = false;    // inside a line that is too long, until its newline
  bool reading_ = true;
  bool refused_ = false;       // the buffer refused some lines; no more acks here
  uint64_t lines_ = 0;         // lines received so far (1-based numbering)
  uint64_t acked_ = 0;         // lines acknowledged so far
  uint64_t generation_ = 0;    // the ingest batch the last line went into
  std::deque<std::pair<uint64_t, uint64_t>> pending_;  // (generation, its last line)
  std::deque<std::string> writes_;
  bool writing_ = false;
  AcceptResult result_;
};

}  // namespace meterd

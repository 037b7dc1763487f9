// ListenerConfig: the `listeners:` section of the config, apart from the rest so that the
// transports depend on their own settings only (no meters, no JSONPath, no simdjson).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace meterd {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

struct ListenerConfig {
  std::optional<Endpoint> udp;
  std::string unix_datagram;  // socket paths; empty: not listening
  std::string unix_stream;
  std::optional<Endpoint> http;
  // The admin listener (metrics, health, readiness, status): apart from the ingest listeners so a
  // flood of events cannot starve the probes. Not an ingest listener.
  std::optional<Endpoint> admin;
  int receive_buffer_bytes = 8 << 20;  // SO_RCVBUF of the datagram sockets
  unsigned unix_mode = 0660;
  std::string unix_group;  // empty: the process's group
  int64_t http_max_body_bytes = 4 << 20;
  int64_t stream_max_line_bytes = 1 << 20;
  int64_t idle_timeout_ms = 60'000;  // stream and HTTP connections with nothing to say
};

}  // namespace meterd

// HttpListener: OpenMeter's ingest API on loopback, with Boost.Beast on the shared io_context.
//
//   POST /api/v1/events
//     Content-Type: application/cloudevents+json        one event
//                   application/cloudevents-batch+json  a JSON array of events
//                   application/json                    either
//                   application/msgpack                 the compact form (a map or an array)
//
// Answers: 204 once every event of the body is durable (committed); 400 with an
// application/problem+json body naming each invalid event (index, field, reason) while the
// valid events of the same body are still accepted and durable before the answer; 413 for a body
// over `http_max_body`; 415 for any other content type; 404/405 for other paths and methods.
// Keep-alive; header size and body size are bounded; a client idle for `idle_timeout` (or too
// slow to send its request) is disconnected. Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <string>

#include "agent/config/listener_config.h"
#include "agent/ingest/durability.h"
#include "agent/ingest/payload_sink.h"
#include "agent/listeners/listener.h"
#include "buffer/base/status.h"

namespace meterd {

struct HttpLimits {
  int64_t max_body_bytes = 4 << 20;
  int64_t idle_timeout_ms = 60'000;
};

class HttpListener : public Listener {
 public:
  HttpListener(boost::asio::io_context& io, PayloadSink& sink, Durability& durability,
               Endpoint endpoint, const HttpLimits& limits);
  Status open() override;
  void start() override { accept_next(); }
  // Stops accepting; a session in progress still answers its request.
  void close() override;
  std::string description() const override;
  // The bound port (the configured one, or the kernel's choice for port 0). After open().
  uint16_t port() const;

 private:
  void accept_next();

  boost::asio::ip::tcp::acceptor acceptor_;
  PayloadSink& sink_;
  Durability& durability_;
  const Endpoint endpoint_;
  const HttpLimits limits_;
};

}  // namespace meterd

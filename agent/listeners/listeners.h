// Listeners: every configured transport, opened, started and closed together. The transports
// are siblings behind one seam (PayloadSink); this file is the only place that knows them all.
// Threading: open() before the io_context runs; close() on the ingest thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>

#include "agent/config/listener_config.h"
#include "agent/ingest/durability.h"
#include "agent/listeners/http_listener.h"
#include "agent/ingest/payload_sink.h"
#include "agent/listeners/udp_listener.h"
#include "agent/listeners/unix_datagram_listener.h"
#include "agent/listeners/unix_stream_listener.h"
#include "buffer/base/status.h"

namespace meterd {

class Listeners {
 public:
  Status open(const ListenerConfig& config, boost::asio::io_context& io, PayloadSink& sink,
              Durability& durability);
  void close();

 private:
  std::unique_ptr<UdpListener> udp_;
  std::unique_ptr<UnixDatagramListener> unix_datagram_;
  std::unique_ptr<UnixStreamListener> unix_stream_;
  std::unique_ptr<HttpListener> http_;
};

}  // namespace meterd

// Listeners: every configured transport, opened, started and closed together. The transports
// are siblings behind one seam (listener.h) and feed one sink (payload_sink.h); listeners.cc is
// the only place that knows them all.
// Threading: open() before the io_context runs; close() on the ingest thread.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <vector>

#include "agent/config/listener_config.h"
#include "agent/ingest/durability.h"
#include "agent/ingest/payload_sink.h"
#include "agent/listeners/listener.h"
#include "buffer/base/status.h"

namespace meterd {

class Listeners {
 public:
  // Opens and starts each configured transport in turn (UDP, Unix datagram, Unix stream, HTTP);
  // the first that cannot open is the error, and the ones before it stay open until close().
  Status open(const ListenerConfig& config, boost::asio::io_context& io, PayloadSink& sink,
              Durability& durability);
  // Closes them in the order they were opened.
  void close();
  // Datagrams the kernel dropped, by transport. Any thread, once open() returned.
  std::array<int64_t, kTransports> kernel_drops() const;

 private:
  std::vector<std::unique_ptr<Listener>> open_;
};

}  // namespace meterd

// Listener: the one seam every transport (UDP, Unix datagram, Unix stream, HTTP) sits behind, so
// listeners.cc opens, starts and closes them alike and a new transport is one sibling file pair.
// What a transport does with what it receives goes through PayloadSink (payload_sink.h); this
// interface only covers a transport's life: opened once, started once, closed once.
//
// Settings are given to the constructor; open() binds the socket and may fail (a busy port, a
// path that is not a socket), start() queues the first wait or accept on the io_context, close()
// stops receiving. Threading: open() and start() before the io_context runs, close() on the
// thread that runs it (the ingest thread).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "agent/ingest/event_counts.h"
#include "buffer/base/status.h"

namespace meterd {

class Listener {
 public:
  virtual ~Listener() = default;

  // Binds and configures the socket; on error nothing is listening.
  virtual Status open() = 0;
  // Begins receiving; only after open() succeeded.
  virtual void start() = 0;
  // Stops receiving. Datagrams the kernel already holds are taken first (they were sent before
  // the shutdown); stream clients still get the acknowledgements of what was read.
  virtual void close() = 0;
  // What it listens on, for the start-up log: "UDP events on 127.0.0.1:9000". After open().
  virtual std::string description() const = 0;
  // Adds the datagrams the kernel dropped on this transport's socket (its receive buffer was
  // full) under the transport's slot; stream transports drop nothing. Any thread.
  virtual void add_kernel_drops(std::array<int64_t, kTransports>* /*by_transport*/) const {}
};

}  // namespace meterd

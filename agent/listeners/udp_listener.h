// UdpListener: receives events on a UDP socket (loopback by default).
//
// Fire-and-forget: a datagram's events are durable from the next commit. A non-loopback address
// must be configured explicitly and is logged as a warning. Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "agent/listeners/coalescing_receive_loop.h"
#include "agent/config/listener_config.h"
#include "agent/listeners/datagram_receiver.h"
#include "buffer/base/status.h"

namespace meterd {

class UdpListener {
 public:
  UdpListener(boost::asio::io_context& io, PayloadSink& sink);
  Status open(const Endpoint& endpoint, int receive_buffer_bytes);
  void start() { loop_.start(); }
  void close() { loop_.close(); }

  uint16_t port() const { return port_; }
  const DatagramReceiver& receiver() const { return receiver_; }

 private:
  boost::asio::io_context& io_;
  DatagramReceiver receiver_;
  CoalescingReceiveLoop loop_;
  uint16_t port_ = 0;
};

}  // namespace meterd

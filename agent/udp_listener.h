// UdpListener: receives events on a UDP socket (loopback by default).
//
// Fire-and-forget: a datagram's events are durable from the next commit. A non-loopback address
// must be configured explicitly and is logged as a warning. Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "agent/config.h"
#include "agent/datagram_receiver.h"
#include "buffer/status.h"

namespace meterd {

class UdpListener {
 public:
  UdpListener(boost::asio::io_context& io, PayloadSink& sink);
  Status open(const Endpoint& endpoint, int receive_buffer_bytes);
  void start() { receive_until_closed(socket_, receiver_); }
  void close();

  uint16_t port() const;
  const DatagramReceiver& receiver() const { return receiver_; }

 private:
  boost::asio::ip::udp::socket socket_;
  DatagramReceiver receiver_;
};

}  // namespace meterd

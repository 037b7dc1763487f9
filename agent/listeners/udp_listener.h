// UdpListener: receives events on a UDP socket (loopback by default).
//
// Fire-and-forget: a datagram's events are durable from the next commit. A non-loopback address
// must be configured explicitly and is logged as a warning. Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <string>

#include "agent/config/listener_config.h"
#include "agent/listeners/coalescing_receive_loop.h"
#include "agent/listeners/datagram_receiver.h"
#include "agent/listeners/listener.h"
#include "buffer/base/status.h"

namespace meterd {

class UdpListener : public Listener {
 public:
  UdpListener(boost::asio::io_context& io, PayloadSink& sink, Endpoint endpoint,
              int receive_buffer_bytes);
  Status open() override;
  void start() override { loop_.start(); }
  // Takes what the kernel still holds, closes the socket and logs the datagram counters.
  void close() override;
  std::string description() const override;
  void add_kernel_drops(std::array<int64_t, kTransports>* by_transport) const override {
    (*by_transport)[static_cast<size_t>(Transport::kUdp)] += receiver_.kernel_drops();
  }

  // The bound port (the configured one, or the kernel's choice for port 0).
  uint16_t port() const { return port_; }
  const DatagramReceiver& receiver() const { return receiver_; }

 private:
  boost::asio::io_context& io_;
  const Endpoint endpoint_;
  const int receive_buffer_bytes_;
  DatagramReceiver receiver_;
  CoalescingReceiveLoop loop_;
  uint16_t port_ = 0;
};

}  // namespace meterd

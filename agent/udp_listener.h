// UdpListener: receives events on a UDP socket, many datagrams per system call (recvmmsg).
//
// Fire-and-forget: a datagram's events are durable from the next commit. The socket lives on the
// shared io_context; the listener waits for readability, then drains the socket in batches of
// up to kBatch datagrams without blocking. Each datagram goes to the PayloadSink whole.
// Threading: the ingest thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <memory>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/ingest.h"
#include "buffer/status.h"

namespace meterd {

class UdpListener {
 public:
  static constexpr int kBatch = 32;
  static constexpr size_t kMaxDatagram = 65536;

  UdpListener(boost::asio::io_context& io, PayloadSink& sink);
  Status open(const Endpoint& endpoint, int receive_buffer_bytes);
  void start();
  void close();

  uint16_t port() const;

 private:
  void wait();
  void drain();

  boost::asio::ip::udp::socket socket_;
  PayloadSink& sink_;
  std::vector<char> buffers_;  // kBatch slots, each padded for simdjson
  size_t slot_size_ = 0;
};

}  // namespace meterd

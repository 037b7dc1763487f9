// DatagramReceiver: drains a ready datagram socket (UDP or Unix) with recvmmsg, many datagrams
// per system call, and hands each one whole to the PayloadSink.
//
// It also keeps the transport's counters: datagrams received, datagrams too large for the 64 KiB
// buffer (dead letters, since their events cannot be read whole), and the kernel's own drop
// count (SO_MEMINFO), which tells a user when the receive buffer overflowed.
// Threading: the ingest thread only; counters are atomics other threads may read.
#pragma once

#include <sys/socket.h>

#include <boost/system/error_code.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/ingest/payload_sink.h"
#include "agent/listeners/receive_batch.h"

namespace meterd {

class DatagramReceiver {
 public:
  static constexpr int kBatch = 32;
  static constexpr size_t kMaxDatagram = 64 * 1024;

  DatagramReceiver(PayloadSink& sink, std::string listener);

  // Receives until the socket would block; returns the datagrams received.
  int64_t drain(int fd);

  int64_t datagrams() const { return datagrams_.load(); }
  int64_t kernel_drops() const { return kernel_drops_.load(); }
  int64_t oversized() const { return oversized_.load(); }

  // Logs the counters in one line, once the socket closed (the transport tests read it).
  void log_counters() const;

 private:
  PayloadSink& sink_;
  std::string listener_;
  ReceiveBatch<kBatch> batch_;  // slots padded for simdjson
  std::atomic<int64_t> datagrams_{0};
  std::atomic<int64_t> kernel_drops_{0};
  std::atomic<int64_t> oversized_{0};
};

// Waits for `socket` to become readable and drains it, until the socket is closed: the Unix
// datagram listener's loop. (UDP pauses between drains instead: coalescing_receive_loop.h. A
// Unix datagram sender blocks once net.unix.max_dgram_qlen, 10 by default, datagrams wait, so
// pausing there would throttle the sender instead of batching.) Both objects must outlive the
// io_context's run.
template <typename Socket>
void receive_until_closed(Socket& socket, DatagramReceiver& receiver) {
  socket.async_wait(Socket::wait_read, [&socket, &receiver](boost::system::error_code ec) {
    if (ec) return;  // closed
    receiver.drain(socket.native_handle());
    receive_until_closed(socket, receiver);
  });
}

}  // namespace meterd

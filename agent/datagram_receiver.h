// DatagramReceiver: drains a ready datagram socket (UDP or Unix) with recvmmsg, many datagrams
// per system call, and hands each one whole to the PayloadSink.
//
// It also keeps the transport's counters: datagrams received, datagrams too large for the 64 KiB
// buffer (dead letters, since their events cannot be read whole), and the kernel's own drop
// count (SO_RXQ_OVFL), which tells a user when the receive buffer overflowed.
// Threading: the ingest thread only; counters are atomics other threads may read.
#pragma once

#include <sys/socket.h>

#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "agent/ingest.h"
#include "agent/receive_batch.h"

namespace meterd {

class DatagramReceiver {
 public:
  static constexpr int kBatch = 32;
  static constexpr size_t kMaxDatagram = 64 * 1024;
  // After a drain, the receiver waits this long before it asks for readiness again, so that
  // under load each wake-up finds a batch instead of one datagram: a wake-up (epoll, a context
  // switch) costs more than decoding a small event. It bounds wake-ups to 5,000 a second; the
  // receive buffer holds far more than arrives meanwhile, and 200 µs is nothing to a meter.
  // UDP only: a Unix datagram sender blocks once net.unix.max_dgram_qlen (10 by default)
  // datagrams wait, so pausing there would throttle the sender instead of batching.
  static constexpr std::chrono::microseconds kCoalesce{200};

  DatagramReceiver(PayloadSink& sink, std::string listener);

  // Turns on the kernel drop counter for `fd` (best effort).
  static void enable_drop_counter(int fd);

  // Receives until the socket would block; returns the datagrams received.
  int64_t drain(int fd);

  int64_t datagrams() const { return datagrams_.load(); }
  int64_t kernel_drops() const { return kernel_drops_.load(); }
  int64_t oversized() const { return oversized_.load(); }

  // The timer receive_until_closed() waits on between drains; created on first use.
  template <typename Executor>
  boost::asio::steady_timer& pause(const Executor& executor) {
    if (!pause_) pause_.emplace(executor);
    return *pause_;
  }

 private:
  PayloadSink& sink_;
  std::string listener_;
  ReceiveBatch<kBatch> batch_;  // slots padded for simdjson
  std::atomic<int64_t> datagrams_{0};
  std::atomic<int64_t> kernel_drops_{0};
  std::atomic<int64_t> oversized_{0};
  std::optional<boost::asio::steady_timer> pause_;
};

template <typename Socket>
void drain_then_pause(Socket& socket, DatagramReceiver& receiver);

// Waits for `socket` to become readable and drains it, until the socket is closed. Shared by the
// UDP and Unix datagram listeners, whose sockets differ only in protocol. Both objects must
// outlive the io_context's run.
template <typename Socket>
void receive_until_closed(Socket& socket, DatagramReceiver& receiver) {
  socket.async_wait(Socket::wait_read, [&socket, &receiver](boost::system::error_code ec) {
    if (!ec) drain_then_pause(socket, receiver);  // an error: closed
  });
}

// Drains; then, for UDP, after a pause of kCoalesce drains again at once, without asking epoll
// (under load there is always something by then), and waits for readiness only once a drain
// came back empty.
template <typename Socket>
void drain_then_pause(Socket& socket, DatagramReceiver& receiver) {
  constexpr bool kUnix =
      std::is_same_v<typename Socket::protocol_type, boost::asio::local::datagram_protocol>;
  if (receiver.drain(socket.native_handle()) == 0 || kUnix) {
    return receive_until_closed(socket, receiver);
  }
  auto& pause = receiver.pause(socket.get_executor());
  pause.expires_after(DatagramReceiver::kCoalesce);
  pause.async_wait([&socket, &receiver](boost::system::error_code ec) {
    if (!ec && socket.is_open()) drain_then_pause(socket, receiver);
  });
}

}  // namespace meterd

// CoalescingReceiveLoop: the UDP socket's receive loop. Under load it drains the socket, pauses
// kCoalesce, and drains again, so each wake-up of the ingest thread finds a batch of datagrams
// instead of one: a wake-up (epoll, a context switch) costs ~20 µs on these VMs, more than
// decoding a small event. It waits for readiness only once a drain came back empty.
//
// Why not asio's own readiness wait on the socket: asio keeps every socket in its epoll set,
// edge-triggered, for the socket's whole life, and every datagram that arrives is an edge, so
// during a pause each datagram still woke the thread (14,000 wake-ups a second at 170,000
// datagrams a second; the pause bought nothing). Here the socket sits alone in an epoll set of
// its own with EPOLLONESHOT, and only that set is in asio's: once it reported readiness the
// socket is silent until rearmed, which happens only when a drain found it empty.
//
// 1 ms of pause bounds the wake-ups to 1,000 a second; the receive buffer
// (listeners.receive_buffer, 8 MiB) holds tens of milliseconds of datagrams even at 200,000 a
// second, and events wait for the next commit (200 ms) anyway.
// Threading: the ingest thread's io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

#include "agent/listeners/datagram_receiver.h"
#include "buffer/base/status.h"

namespace meterd {

class CoalescingReceiveLoop {
 public:
  static constexpr std::chrono::microseconds kCoalesce{1000};

  CoalescingReceiveLoop(boost::asio::io_context& io, DatagramReceiver& receiver);
  ~CoalescingReceiveLoop();

  // Takes ownership of `socket_fd`: a bound, non-blocking datagram socket no io_context knows.
  Status attach(int socket_fd);
  // Receives until close().
  void start() { wait_for_readiness(); }
  // Takes what the kernel still holds, then closes the socket.
  void close();

 private:
  void wait_for_readiness();
  void drain_then_pause();
  void release();

  DatagramReceiver& receiver_;
  int socket_fd_ = -1;
  boost::asio::posix::stream_descriptor readiness_;  // the socket's own epoll set
  boost::asio::steady_timer pause_;
};

}  // namespace meterd

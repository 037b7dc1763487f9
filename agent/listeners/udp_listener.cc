// The UDP socket: binding, receive buffer and drop counter (see udp_listener.h).
#include "agent/listeners/udp_listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

namespace meterd {

namespace asio = boost::asio;

UdpListener::UdpListener(asio::io_context& io, PayloadSink& sink)
    : io_(io), receiver_(sink, "udp"), loop_(io, receiver_) {}

Status UdpListener::open(const Endpoint& endpoint, int receive_buffer_bytes) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) return Status::error(fmt::format("udp listener: bad address '{}'", endpoint.host));
  asio::ip::udp::endpoint local(address, endpoint.port);
  // Opened and bound through asio, then released from its reactor to the receive loop, which
  // waits for readiness its own way (coalescing_receive_loop.h).
  asio::ip::udp::socket socket(io_);
  socket.open(local.protocol(), ec);
  if (!ec) socket.bind(local, ec);
  if (ec) {
    return Status::error(fmt::format("udp listener: binding {}:{}: {}", endpoint.host,
                                     endpoint.port, ec.message()));
  }
  if (!address.is_loopback()) {
    spdlog::warn("udp listener on non-loopback address {}: anyone who can reach it can send usage",
                 endpoint.host);
  }
  // A deep receive buffer absorbs bursts while the ingest thread is busy; FORCE exceeds
  // rmem_max when we are privileged, and the plain option is the fallback.
  int fd = socket.native_handle();
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes,
                 sizeof(receive_buffer_bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  }
  socket.non_blocking(true, ec);
  port_ = socket.local_endpoint(ec).port();
  int released = socket.release(ec);
  if (ec) return Status::error(fmt::format("udp listener: {}", ec.message()));
  return loop_.attach(released);
}

}  // namespace meterd

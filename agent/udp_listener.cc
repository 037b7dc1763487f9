// The UDP socket: binding, receive buffer and drop counter (see udp_listener.h).
#include "agent/udp_listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

namespace meterd {

namespace asio = boost::asio;

UdpListener::UdpListener(asio::io_context& io, PayloadSink& sink)
    : socket_(io), receiver_(sink, "udp") {}

Status UdpListener::open(const Endpoint& endpoint, int receive_buffer_bytes) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) return Status::error(fmt::format("udp listener: bad address '{}'", endpoint.host));
  asio::ip::udp::endpoint local(address, endpoint.port);
  socket_.open(local.protocol(), ec);
  if (!ec) socket_.bind(local, ec);
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
  int fd = socket_.native_handle();
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes,
                 sizeof(receive_buffer_bytes)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof(receive_buffer_bytes));
  }
  DatagramReceiver::enable_drop_counter(fd);
  socket_.non_blocking(true, ec);
  return Status::ok();
}

uint16_t UdpListener::port() const { return socket_.local_endpoint().port(); }

void UdpListener::close() {
  boost::system::error_code ec;
  socket_.close(ec);
}

}  // namespace meterd

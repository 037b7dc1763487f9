// The UDP socket: binding, receive buffer and drop counter (see udp_listener.h).
#include "agent/listeners/udp_listener.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>

#include <fmt/format.h>

#include "agent/listeners/receive_buffer.h"

namespace meterd {

namespace asio = boost::asio;

UdpListener::UdpListener(asio::io_context& io, PayloadSink& sink, Endpoint endpoint,
                         int receive_buffer_bytes)
    : io_(io),
      endpoint_(std::move(endpoint)),
      receive_buffer_bytes_(receive_buffer_bytes),
      receiver_(sink, "udp"),
      loop_(io, receiver_) {}

Status UdpListener::open() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint_.host, ec);
  if (ec) return Status::error(fmt::format("udp listener: bad address '{}'", endpoint_.host));
  asio::ip::udp::endpoint local(address, endpoint_.port);
  // Opened and bound through asio, then released from its reactor to the receive loop, which
  // waits for readiness its own way (coalescing_receive_loop.h).
  asio::ip::udp::socket socket(io_);
  socket.open(local.protocol(), ec);
  if (!ec) socket.bind(local, ec);
  if (ec) {
    return Status::error(fmt::format("udp listener: binding {}:{}: {}", endpoint_.host,
                                     endpoint_.port, ec.message()));
  }
  if (!address.is_loopback()) {
    spdlog::warn("udp listener on non-loopback address {}: anyone who can reach it can send usage",
                 endpoint_.host);
  }
  set_receive_buffer(socket.native_handle(), receive_buffer_bytes_);
  socket.non_blocking(true, ec);
  port_ = socket.local_endpoint(ec).port();
  int released = socket.release(ec);
  if (ec) return Status::error(fmt::format("udp listener: {}", ec.message()));
  return loop_.attach(released);
}

void UdpListener::close() {
  loop_.close();
  receiver_.log_counters();
}

std::string UdpListener::description() const {
  return fmt::format("UDP events on {}:{}", endpoint_.host, port_);
}

}  // namespace meterd

// See tcp_acceptor.h.
#include "agent/listeners/tcp_acceptor.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

namespace meterd {

namespace asio = boost::asio;

Status open_tcp_acceptor(asio::ip::tcp::acceptor& acceptor, const Endpoint& endpoint,
                         std::string_view what, std::string_view exposure) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) return Status::error(fmt::format("{}: bad address '{}'", what, endpoint.host));
  asio::ip::tcp::endpoint local(address, endpoint.port);
  acceptor.open(local.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(local, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::error(
        fmt::format("{}: {}:{}: {}", what, endpoint.host, endpoint.port, ec.message()));
  }
  if (!address.is_loopback()) {
    spdlog::warn("{} on non-loopback address {}: {}", what, endpoint.host, exposure);
  }
  return Status::ok();
}

}  // namespace meterd

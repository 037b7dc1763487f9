// The HTTP acceptor (see http_listener.h).
#include "agent/listeners/http_listener.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>

#include "agent/listeners/http_session.h"

namespace meterd {

namespace asio = boost::asio;

HttpListener::HttpListener(asio::io_context& io, PayloadSink& sink, Durability& durability)
    : acceptor_(io), sink_(sink), durability_(durability) {}

Status HttpListener::open(const Endpoint& endpoint, const HttpLimits& limits) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) return Status::error(fmt::format("http listener: bad address '{}'", endpoint.host));
  asio::ip::tcp::endpoint local(address, endpoint.port);
  acceptor_.open(local.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(local, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::error(fmt::format("http listener: {}:{}: {}", endpoint.host, endpoint.port,
                                     ec.message()));
  }
  if (!address.is_loopback()) {
    spdlog::warn("http listener on non-loopback address {}: anyone who can reach it can send usage",
                 endpoint.host);
  }
  limits_ = limits;
  return Status::ok();
}

uint16_t HttpListener::port() const { return acceptor_.local_endpoint().port(); }

void HttpListener::accept_next() {
  acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<HttpSession>(std::move(socket), sink_, durability_, limits_)->start();
    accept_next();
  });
}

void HttpListener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

}  // namespace meterd
